"""Playground's gateway and websocket relay beside LiteLLM's proxy, in one run.

One local OpenAI-protocol upstream (a subprocess: HTTP/1.1 keep-alive,
chunked SSE) streams N chat chunks, one every `interval` (the first after one
interval, as a model's first token would); each chunk's content carries its
sequence number and the wall-clock time the upstream wrote it ("seq:ns|").
Not-streamed answers come at once. The same requests go, in one run, to:

- direct:     the upstream itself;
- gateway:    Playground's /v1/chat/completions (one daphne process, a
              throwaway SQLite database, a gateway key: every call is
              authenticated, rate-counted, validated, resolved, recorded as a
              Run and relayed);
- litellm:    LiteLLM's proxy (`litellm --num_workers 1`, no database, a
              master key; pinned in bench/requirements-litellm.txt and
              installed into bench/.venv-litellm, never the project's venv);
- websocket:  Playground's playground websocket (the same daphne process),
              a `run` message per stream (streams only).

Per level, the targets take turns (direct, gateway, litellm, websocket), so
the machine's noise hits them alike. Reported: TTFT and per-chunk latency
(upstream write -> client read) p50/p99 at 1, 8 and 32 concurrent streams;
requests per second and latency p50/p99 at 1, 8 and 32 non-streamed
clients (made by wrk, a C load generator from Debian, so that the client's
own CPU does not take the shared cores from the servers; `--seconds 0`
makes them with httpx instead, as before 2026-12-01); and the CPU seconds
each server process used for its part (/proc/<pid>/stat, all threads), per
1,000 requests.

    python3 -m venv bench/.venv-litellm
    bench/.venv-litellm/bin/pip install -r bench/requirements-litellm.txt
    sudo apt-get install wrk
    .venv/bin/python bench/versus_bench.py            # ~3 min
    .venv/bin/python bench/versus_bench.py --levels 1 --streams 20 --seconds 1 --skip litellm

Loopback only; every loop is bounded. Not part of the test suite.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    cpu_seconds,
    free_port,
    percentile,
    setup_playground,
    start_daphne,
    stop,
    wait_for_port,
    wrk_available,
    wrk_calls,
)

LITELLM_VENV = ROOT / "bench" / ".venv-litellm"
LITELLM_KEY = "sk-bench-master-key"
TARGETS = ("direct", "gateway", "litellm", "websocket")

# ---- the upstream (a subprocess) -------------------------------------------------


async def serve_upstream(port, chunks, interval):
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0,
            "model": "bench"}

    def chunk(delta, finish=None):
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        data = json.dumps({**head, "choices": [choice]})
        payload = f"data: {data}\n\n".encode()
        return b"%x\r\n%s\r\n" % (len(payload), payload)

    answer = json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }).encode()
    models = json.dumps({"object": "list", "data": [
        {"id": "bench", "object": "model", "created": 0, "owned_by": "bench"}]}).encode()

    async def handle(reader, writer):
        try:
            while True:  # keep-alive: one request after another
                head_bytes = await reader.readuntil(b"\r\n\r\n")
                lines = head_bytes.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = json.loads(await reader.readexactly(length)) if length else {}
                if lines[0].startswith("GET"):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(models), models))
                    continue
                if not body.get("stream"):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
                    continue
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
                for seq in range(chunks):
                    await asyncio.sleep(interval)
                    delta = {"content": f"{seq}:{time.time_ns()}|"}
                    if seq == 0:
                        delta["role"] = "assistant"
                    writer.write(chunk(delta))
                    await writer.drain()
                writer.write(chunk({}, "stop"))
                done = b"data: [DONE]\n\n"
                writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


# ---- what a client sees --------------------------------------------------------------


class Stream:
    def __init__(self):
        self.started = time.time_ns()
        self.first = None
        self.latencies = []
        self.seqs = []

    def got(self, text):
        now = time.time_ns()
        for piece in filter(None, (text or "").split("|")):
            seq, sent = piece.split(":")
            self.first = self.first or now
            self.seqs.append(int(seq))
            self.latencies.append((now - int(sent)) / 1e6)


async def http_stream(client, url, headers, body):
    s = Stream()
    async with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                for choice in json.loads(line[6:]).get("choices", ()):
                    s.got((choice.get("delta") or {}).get("content"))
    return s


async def ws_stream(ws_url, cookie, model_uuid, body):
    import websockets

    s = Stream()
    origin = "http://" + ws_url.removeprefix("ws://").split("/", 1)[0]
    async with websockets.connect(ws_url, additional_headers={"Cookie": cookie, "Origin": origin},
                                  max_queue=None, open_timeout=60) as ws:
        s.started = time.time_ns()
        await ws.send(json.dumps({"type": "run", "mode": "chat", "model": model_uuid,
                                  "conversation": None, "body": body}))
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "delta":
                s.got(message["text"])
            elif message["type"] == "errors":
                raise RuntimeError(message)
            elif message["type"] == "done":
                break
    return s


def summarize(streams, chunks, failed):
    ttfts = [(s.first - s.started) / 1e6 for s in streams if s.first]
    latencies = [x for s in streams for x in s.latencies]
    return {
        "ttft_p50": percentile(ttfts, 50), "ttft_p99": percentile(ttfts, 99),
        "chunk_p50": percentile(latencies, 50), "chunk_p99": percentile(latencies, 99),
        "lost": sum(chunks - len(set(s.seqs)) for s in streams) + failed * chunks,
        "failed": failed,
    }


class Target:
    def __init__(self, name, url, headers, model, pid, playground=False):
        self.name, self.url, self.headers, self.model, self.pid = name, url, headers, model, pid
        self.playground = playground  # its calls are Runs in this process's database
        self.cpu = 0.0
        self.calls = 0

    async def measured(self, coroutine, calls=None):
        """Await `coroutine`, adding the server's CPU and `calls` (by default
        the result's "calls") to this target's."""
        before = self.cpu_seconds()
        result = None
        try:
            result = await coroutine
            return result
        finally:
            by_wrk = calls is None
            if by_wrk:
                calls = (result or {}).get("calls", 0)
            if self.playground:
                # A plain call's Run is written just after its answer: the
                # phase's last writes are its own CPU, not the next phase's.
                # (So are the calls wrk dropped, counted here.)
                calls += await settled(calls, looks=3 if by_wrk else 0)
            self.cpu += self.cpu_seconds() - before
            self.calls += calls

    def cpu_seconds(self):
        return cpu_seconds(self.pid)


def runs_stored():
    from apps.history.models import Run

    return Run.objects.count()


# How many Runs Playground's database should hold once every call made so
# far is stored (counted from the start, not read before each phase: the
# phase's calls are already under way by then, gather() starts them).
RUNS = {"expected": 0}


async def count_runs_from_now():
    RUNS["expected"] = await asyncio.to_thread(runs_stored)


async def settled(calls, timeout=10, looks=0):
    """Wait (bounded) until Playground's database holds a Run for every
    call made so far, these `calls` included; returns how many more Runs
    it holds than that. wrk drops the calls still in flight when its time
    is up, uncounted: their Runs are stored all the same, and are taken in
    (and counted as calls) once the count has held still for `looks` looks
    50 ms apart."""
    expected = RUNS["expected"] + calls
    deadline = time.monotonic() + timeout
    while (stored := await asyncio.to_thread(runs_stored)) < expected:
        if time.monotonic() > deadline:
            print(f"  {expected - stored} Runs not stored after {timeout} s", flush=True)
            break
        await asyncio.sleep(0.01)
    still = 0
    while still < looks and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        before, stored = stored, await asyncio.to_thread(runs_stored)
        still = still + 1 if stored == before else 0
    # What is stored now is the next phase's starting point, whatever came.
    RUNS["expected"] = stored
    return max(0, stored - expected)


async def streams(target, client, level, total, chunks, ws):
    body = {"messages": [{"role": "user", "content": "bench"}], "max_tokens": chunks + 1}
    rounds = -(-total // level)
    got, failed = [], 0
    for _ in range(rounds):
        if target.name == "websocket":
            calls = (ws_stream(ws["url"], ws["cookie"], ws["model"], body) for _ in range(level))
        else:
            calls = (http_stream(client, target.url, target.headers,
                                 {**body, "model": target.model, "stream": True})
                     for _ in range(level))
        for result in await target.measured(
            asyncio.gather(*calls, return_exceptions=True), level
        ):
            if isinstance(result, BaseException):
                failed += 1
                print(f"  {target.name}: a stream failed: {result!r}", flush=True)
            else:
                got.append(result)
    return summarize(got, chunks, failed)


async def requests(target, client, level, total, seconds=0):
    """Not-streamed calls at `level` clients: by wrk for `seconds` when it is
    given (bench.common.wrk_calls), otherwise `total` calls by the httpx
    `client`."""
    body = {"model": target.model, "messages": [{"role": "user", "content": "bench"}],
            "max_tokens": 8}
    if seconds:
        return await target.measured(wrk_calls(target.url, target.headers, body, level, seconds))
    latencies, errors = [], 0
    queue = list(range(total))

    async def worker():
        nonlocal errors
        while queue:
            queue.pop()
            started = time.perf_counter()
            response = await client.post(target.url, json=body, headers=target.headers)
            if response.status_code != 200:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await target.measured(asyncio.gather(*(worker() for _ in range(level))), total)
    elapsed = time.perf_counter() - started
    return {"rps": total / elapsed, "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99), "errors": errors}


def client_for(level):
    """The client of one phase (a target at a level): a pool of its own,
    sized to the level. One client shared by every phase kept up to 32 idle
    connections to each server, and httpx looks through its whole pool on
    every request: that doubled the client's own time per plain call (0.59
    -> 1.24 ms, measured), which every target paid at 1 client."""
    import httpx

    limits = httpx.Limits(max_connections=level + 8, max_keepalive_connections=level)
    return httpx.AsyncClient(limits=limits, timeout=120)


async def warmed(target, client, level):
    """Open the phase's `level` connections before it is measured (not
    counted: the CPU and calls are put back)."""
    if target.name == "websocket":  # a socket per stream, no pool
        return
    cpu, calls = target.cpu, target.calls
    await requests(target, client, level, 2 * level)
    target.cpu, target.calls = cpu, calls


async def measure(args, targets, ws):
    levels = [int(x) for x in args.levels.split(",")]
    results = {"streams": {}, "requests": {}}
    await count_runs_from_now()
    async with client_for(4) as client:
        for target in targets:  # warm-up of the servers, not measured
            await streams(target, client, 1, 3, args.chunks, ws)
            if target.name != "websocket":
                await requests(target, client, 4, 40)
            target.cpu, target.calls = 0.0, 0
    for level in levels:
        for target in targets:
            async with client_for(level) as client:
                await warmed(target, client, level)
                r = await streams(target, client, level, args.streams, args.chunks, ws)
            results["streams"][level, target.name] = r
            print(f"{level:>3} streams {target.name:>9}: TTFT p50 {r['ttft_p50']:7.2f} ms, "
                  f"chunk p50 {r['chunk_p50']:6.2f} ms, lost {r['lost']}", flush=True)
    for level in levels:
        for target in targets:
            if target.name == "websocket":
                continue
            r = await plain_phase(target, level, args)
            results["requests"][level, target.name] = r
            print(f"{level:>3} clients {target.name:>9}: {r['rps']:7.0f} req/s, p50 "
                  f"{r['p50']:.2f} / p99 {r['p99']:.2f} ms, errors {r['errors']}", flush=True)
    results["cpu"] = {t.name: (t.cpu, t.calls) for t in targets}
    return results


# ---- the servers -----------------------------------------------------------------------


def start_litellm(upstream_url, workdir):
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        raise SystemExit(f"LiteLLM is not installed: {exe} (see this file's docstring)")
    config = Path(workdir) / "litellm.yaml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "model_list": [{"model_name": "bench", "litellm_params": {
            "model": "openai/bench", "api_base": upstream_url, "api_key": "sk-upstream"}}],
        "general_settings": {"master_key": LITELLM_KEY},
        "litellm_settings": {"telemetry": False},
    }))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"LITELLM_LOG": "ERROR", "LITELLM_MODE": "PRODUCTION", "TELEMETRY": "False",
                "DISABLE_SCHEMA_UPDATE": "true"})
    process = subprocess.Popen(
        [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
         "--num_workers", "1"],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL,
        stderr=open(Path(workdir) / "litellm.log", "w"),
    )
    wait_for_port(port, timeout=120)
    return process, f"http://127.0.0.1:{port}"


def playground(data_dir, upstream_url):
    user, model = setup_playground(data_dir, upstream_url)
    from django.conf import settings
    from django.test import Client

    from apps.gateway.models import GatewayKey

    _, secret = GatewayKey.create(user, "bench")
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return secret, cookie, str(model.uuid)


def add_plain_call_options(parser, requests):
    parser.add_argument("--requests", type=int, default=requests,
                        help="plain calls per level, by httpx (--seconds 0)")
    parser.add_argument("--seconds", type=int, default=3,
                        help="seconds of plain calls per level, by wrk; 0: by httpx")


def check_plain_call_options(args):
    if args.seconds and not wrk_available():
        raise SystemExit("wrk makes the plain calls: sudo apt-get install wrk (or --seconds 0)")


def plain_calls(args):
    return (f"{args.seconds} s of plain calls by wrk" if args.seconds
            else f"{args.requests} plain calls by httpx")


async def plain_phase(target, level, args):
    """One measured phase of plain calls at `level` clients."""
    async with client_for(level) as client:
        if not args.seconds:  # wrk opens connections of its own
            await warmed(target, client, level)
        return await requests(target, client, level, args.requests, args.seconds)


def fmt(x, suffix=" ms"):
    return "–" if x is None else f"{x:,.1f}{suffix}" if x >= 10 else f"{x:.2f}{suffix}"


def table(results, args, names):
    levels = [int(x) for x in args.levels.split(",")]
    s, q = results["streams"], results["requests"]
    out = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]

    def row(label, cell):
        out.append(f"| {label} | " + " | ".join(cell(n) for n in names) + " |")

    def added(level, n, key):
        v, d = s[level, n][key], s[level, "direct"][key]
        return fmt(v) if n == "direct" else f"{fmt(v)} (+{v - d:.2f})"

    for level in levels:
        row(f"TTFT p50, {level} stream{'s' * (level > 1)}",
            lambda n, level=level: added(level, n, "ttft_p50"))
        row(f"TTFT p99, {level} stream{'s' * (level > 1)}",
            lambda n, level=level: added(level, n, "ttft_p99"))
    for level in levels:
        row(f"per-chunk p50, {level} stream{'s' * (level > 1)}",
            lambda n, level=level: added(level, n, "chunk_p50"))
    row("chunks lost (all levels)",
        lambda n: str(sum(s[lv, n]["lost"] for lv in levels)))
    row("not streamed, req/s at " + " / ".join(map(str, levels)) + " clients",
        lambda n: " / ".join(f"{q[lv, n]['rps']:,.0f}" for lv in levels) if (levels[0], n) in q
        else "–")
    row("not streamed, answers other than 200 (all levels)",
        lambda n: str(sum(q[lv, n]["errors"] for lv in levels)) if (levels[0], n) in q else "–")
    for level in levels:
        row(f"not streamed p50 / p99, {level} client{'s' * (level > 1)}",
            lambda n, level=level: f"{fmt(q[level, n]['p50'], '')} / {fmt(q[level, n]['p99'])}"
            if (level, n) in q else "–")
    row("server CPU s per 1,000 calls (all of its phases)",
        lambda n: f"{1000 * results['cpu'][n][0] / max(1, results['cpu'][n][1]):.2f}")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--streams", type=int, default=64, help="streams per level and target")
    add_plain_call_options(parser, requests=300)
    parser.add_argument("--skip", default="", help="targets to leave out, e.g. litellm")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        asyncio.run(serve_upstream(args.serve_upstream, args.chunks, args.interval))
        return
    check_plain_call_options(args)

    skip = set(filter(None, args.skip.split(",")))
    port = free_port()
    upstream_url = f"http://127.0.0.1:{port}/v1"
    procs = []
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            upstream = subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(port),
                                         "--chunks", str(args.chunks), "--interval",
                                         str(args.interval)])
            procs.append(upstream)
            wait_for_port(port)
            secret, cookie, model_uuid = playground(data_dir, upstream_url)
            # No rate limit (LiteLLM has none here): 600 calls a minute, the
            # default maximum, is less than this bench makes.
            daphne, app_url = start_daphne(data_dir, env={"GATEWAY_MAX_REQUESTS_PER_MINUTE": "0"})
            procs.append(daphne)
            targets = [Target("direct", f"{upstream_url}/chat/completions", {}, "bench",
                              upstream.pid),
                       Target("gateway", f"{app_url}/v1/chat/completions",
                              {"Authorization": f"Bearer {secret}"}, "bench", daphne.pid,
                              playground=True)]
            if "litellm" not in skip:
                litellm, litellm_url = start_litellm(upstream_url, data_dir)
                procs.append(litellm)
                targets.append(Target("litellm", f"{litellm_url}/v1/chat/completions",
                                      {"Authorization": f"Bearer {LITELLM_KEY}"}, "bench",
                                      litellm.pid))
            targets.append(Target("websocket", None, None, None, daphne.pid, playground=True))
            targets = [t for t in targets if t.name not in skip]
            ws = {"url": f"ws://{app_url.removeprefix('http://')}/ws/run/", "cookie": cookie,
                  "model": model_uuid}
            print(f"{os.cpu_count()} cores; load average at start: "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
            results = asyncio.run(measure(args, targets, ws))
            print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        finally:
            stop(procs)
    print(f"\n{args.chunks} chunks every {args.interval * 1000:g} ms; {args.streams} streams "
          f"per level and target; {plain_calls(args)} per level and target. "
          "(+x): added to direct.\n")
    print(table(results, args, [t.name for t in targets]))


if __name__ == "__main__":
    main()
