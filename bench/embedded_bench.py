"""Tokens/s of the embedded model through Playground, against raw llama.cpp.

The same streamed completion (a fixed prompt, temperature 0, a fixed seed,
`max_tokens` tokens with end-of-text ignored, so every stream is exactly that
long) is read three ways, in one run:

- raw:     the same xllamacpp server, started from the same launch settings
           (apps/inference/local.py `server_params()`) in a process of its
           own with nothing else in it; httpx reads its SSE;
- gateway: POST /v1/completions with a gateway key to one daphne process
           serving the real ASGI app (a throwaway SQLite database), which
           runs the embedded model in-process, records the Run and relays;
- relay:   the playground's websocket (the page's path) to that same daphne.

Each round measures every path at 1 stream (`--single` streams one after
the other) and at 4 concurrent streams, the paths' order rotating from round
to round, so the noise of a shared machine falls on all of them alike; the
table reports medians over the rounds. tokens/s = completion tokens received
/ wall time from sending the requests to the last token (TTFT included);
CPU ms/token = CPU time of the serving process (raw llama.cpp's, or daphne's
with llama.cpp inside) per token: what Playground adds is the difference.

    .venv/bin/python bench/embedded_bench.py                       # 5 rounds, all paths
    .venv/bin/python bench/embedded_bench.py --paths raw --set cpuparams.n_threads=1
    .venv/bin/python bench/embedded_bench.py --busy 2              # 2 CPU hogs alongside
    .venv/bin/python bench/embedded_bench.py --paths raw \
        --variant t1=cpuparams.n_threads=1,cpuparams_batch.n_threads=1   # candidates, interleaved

`--set PATH=VALUE` (repeatable, with `--paths raw` only: Playground runs
local.py as it is) overrides one launch setting of the raw server, e.g.
n_batch=256, cpuparams.n_threads=1, flash_attn_type=LLAMA_FLASH_ATTN_TYPE_ENABLED,
cache_type_k=GGML_TYPE_Q8_0. `--busy N` runs N processes that spin on the
CPU for the whole run (a server busy elsewhere).

Loopback only; every loop is bounded. Not part of the test suite.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_seconds, percentile, start_daphne  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea, there lived"


def parse_overrides(items):
    """["cpuparams.n_threads=1", "flash_attn_type=LLAMA_FLASH_ATTN_TYPE_ENABLED"]
    -> {path: value}; a value naming an xllamacpp enum member becomes it."""
    from apps.inference.local import import_llama

    # Imported as local.py does (its threads' wait policy is read on import):
    # imported plainly, llama.cpp spins and runs ~15x slower here.
    xllamacpp = import_llama()

    overrides = {}
    for item in items:
        path, _, text = item.partition("=")
        value = text
        for enum in ("llama_flash_attn_type", "ggml_type", "ggml_sched_priority"):
            members = getattr(xllamacpp, enum).__members__
            if text in members:
                value = members[text]
        if value is text:
            value = {"true": True, "false": False}.get(text.lower(), text)
            if isinstance(value, str):
                try:
                    value = int(text)
                except ValueError:
                    pass
        overrides[path] = value
    return overrides


# ---- the processes -------------------------------------------------------------------


def serve_raw(settings):
    """The raw server: local.py's launch settings, nothing else in the process."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    from apps.inference import local

    params = local.server_params("bench-key", **parse_overrides(settings))
    server = local.import_llama().Server(params)
    print(server.listening_address.rstrip("/") + "/v1", flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    del server


def spin(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def playground(data_dir):
    """A throwaway Playground with the embedded model registered: (gateway key,
    session cookie, the model's display name, its uuid)."""
    os.environ["PLAYGROUND_DATA_DIR"] = data_dir
    os.environ["PLAYGROUND_LOCAL_MODEL"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from apps.gateway.models import GatewayKey
    from apps.providers.models import ensure_local_provider

    call_command("migrate", verbosity=0)
    model = ensure_local_provider()
    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    _, secret = GatewayKey.create(user, "bench")
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return secret, cookie, model.display_name, str(model.uuid)


# ---- one stream, three ways ----------------------------------------------------------


def body(args, model):
    return {"model": model, "prompt": PROMPT, "max_tokens": args.tokens, "temperature": 0,
            "seed": 1, "ignore_eos": True, "stream": True,
            "stream_options": {"include_usage": True}}


async def sse_stream(client, url, headers, payload, retry=True):
    """(ttft s, completion tokens, end time) of one streamed request."""
    import httpx

    try:
        return await _sse_stream(client, url, headers, payload)
    except httpx.RemoteProtocolError:
        # llama.cpp at times drops a kept-alive connection right after a
        # stream (client.py's _send retries the same way): once more.
        if not retry:
            raise
        return await sse_stream(client, url, headers, payload, retry=False)


async def _sse_stream(client, url, headers, payload):
    started = time.perf_counter()
    first, tokens, chunks = None, None, 0
    async with client.stream("POST", url, json=payload, headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            data = json.loads(line[6:])
            if not data:
                continue
            if any(c.get("text") for c in data.get("choices") or ()):
                first = first or time.perf_counter()
                chunks += 1
            if data.get("usage"):
                tokens = data["usage"]["completion_tokens"]
    return first - started, tokens or chunks, time.perf_counter()


async def ws_stream(ws_url, cookie, model_uuid, payload):
    import websockets

    origin = "http://" + ws_url.removeprefix("ws://").split("/", 1)[0]
    payload = {k: v for k, v in payload.items() if k not in ("model", "stream", "stream_options")}
    async with websockets.connect(
        ws_url, additional_headers={"Cookie": cookie, "Origin": origin}, max_queue=None
    ) as ws:
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "run", "mode": "completions", "model": model_uuid,
                                  "conversation": None, "body": payload}))
        first, tokens, deltas = None, None, 0
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "delta" and message["text"]:
                first = first or time.perf_counter()
                deltas += 1
            elif message["type"] == "usage":
                tokens = message["completion_tokens"]
            elif message["type"] in ("done", "errors", "error"):
                if message["type"] != "done":
                    raise RuntimeError(message)
                break
    return first - started, tokens or deltas, time.perf_counter()


async def batch(one, level, count, pid=None):
    """`count` streams, `level` at a time: (tokens/s, [ttft s], CPU ms per
    token of the serving process `pid`)."""
    ttfts, tokens = [], 0
    cpu = cpu_seconds(pid) if pid else 0
    started = time.perf_counter()
    for _ in range(count // level):
        for ttft, n, _end in await asyncio.gather(*(one() for _ in range(level))):
            ttfts.append(ttft)
            tokens += n
    elapsed = time.perf_counter() - started
    cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / tokens if pid else float("nan")
    return tokens / elapsed, ttfts, cpu_ms


async def measure(args, paths):
    import httpx

    results = {name: {level: {"tps": [], "ttft": [], "cpu": []} for level in args.levels}
               for name in paths}
    async with httpx.AsyncClient(timeout=300) as client:

        def stream_of(name):
            kind, where, secret_or_cookie, model, _pid = paths[name]
            if kind == "ws":
                return lambda: ws_stream(where, secret_or_cookie, model, body(args, model))
            headers = {"Authorization": f"Bearer {secret_or_cookie}"}
            return lambda: sse_stream(client, where, headers, body(args, model))

        for name in paths:  # warm-up, not measured: the model's start, connections
            await batch(stream_of(name), 1, 2)
            await batch(stream_of(name), 4, 4)
        order = list(paths)
        for round_ in range(args.rounds):
            line = []
            for name in order[round_ % len(order):] + order[: round_ % len(order)]:
                for level in args.levels:
                    count = args.single if level == 1 else level * args.concurrent_rounds
                    tps, ttfts, cpu = await batch(stream_of(name), level, count, paths[name][4])
                    results[name][level]["tps"].append(tps)
                    results[name][level]["cpu"].append(cpu)
                    results[name][level]["ttft"] += ttfts
                    line.append(f"{name}@{level} {tps:.1f}")
            print(f"round {round_ + 1}: " + ", ".join(line) + " tokens/s", flush=True)
    return results


def table(results, args):
    names = list(results)
    lines = [
        "| streams | " + " | ".join(f"{n} tokens/s" for n in names)
        + "".join(f" | {n} / raw" for n in names if n != "raw" and "raw" in names)
        + " | " + " | ".join(f"{n} TTFT p50" for n in names)
        + " | " + " | ".join(f"{n} CPU ms/token" for n in names) + " |",
        "| --- " * (1 + 3 * len(names) + sum(n != "raw" and "raw" in names for n in names)) + "|",
    ]
    for level in args.levels:
        tps = {n: statistics.median(results[n][level]["tps"]) for n in names}
        ttft = {n: percentile(results[n][level]["ttft"], 50) * 1000 for n in names}
        row = [str(level)] + [f"{tps[n]:.1f}" for n in names]
        row += [f"{tps[n] / tps['raw']:.2f}" for n in names if n != "raw" and "raw" in names]
        row += [f"{ttft[n]:.0f} ms" for n in names]
        row += [f"{statistics.median(results[n][level]['cpu']):.1f}" for n in names]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", default="raw,gateway,relay")
    parser.add_argument("--levels", default="1,4")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128, help="max_tokens of every stream")
    parser.add_argument("--single", type=int, default=2, help="1-stream requests per round")
    parser.add_argument("--concurrent-rounds", type=int, default=1,
                        help="batches of N concurrent streams per round")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    parser.add_argument("--variant", action="append", default=[],
                        metavar="NAME=PATH=VALUE[,PATH=VALUE]",
                        help="one more raw server, with these settings, measured beside the rest")
    parser.add_argument("--busy", type=int, default=0, help="CPU-spinning processes alongside")
    parser.add_argument("--serve-raw", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spin", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_raw:
        serve_raw(args.set)
        return
    if args.spin:
        spin(args.spin)
        return
    args.levels = [int(x) for x in args.levels.split(",")]
    names = args.paths.split(",")
    if args.set and names != ["raw"]:
        parser.error("--set applies to the raw server only (--paths raw): Playground "
                     "starts its server from local.py as it is")

    procs = []
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            paths = {}
            raws = {"raw": args.set} if "raw" in names else {}
            for variant in args.variant:
                name, _, sets = variant.partition("=")
                raws[name] = sets.split(",") if sets else []
                names.append(name)
            for name, sets in raws.items():
                raw = subprocess.Popen(
                    [sys.executable, __file__, "--serve-raw", *(f"--set={s}" for s in sets)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                )
                procs.append(raw)
                url = raw.stdout.readline().strip()
                paths[name] = ("sse", f"{url}/completions", "bench-key", "SmolLM2-135M-Instruct",
                               raw.pid)
            if {"gateway", "relay"} & set(names):
                secret, cookie, name, uuid = playground(data_dir)
                daphne, app_url = start_daphne(data_dir, env={"PLAYGROUND_LOCAL_MODEL": "1"})
                procs.append(daphne)
                if "gateway" in names:
                    paths["gateway"] = ("sse", f"{app_url}/v1/completions", secret, name,
                                        daphne.pid)
                if "relay" in names:
                    ws_url = f"ws://{app_url.removeprefix('http://')}/ws/run/"
                    paths["relay"] = ("ws", ws_url, cookie, uuid, daphne.pid)
            paths = {n: paths[n] for n in names}
            for _ in range(args.busy):
                procs.append(subprocess.Popen([sys.executable, __file__, "--spin", "3600"]))
            load = os.getloadavg()
            print(f"{os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
                  f"{args.tokens} tokens a stream; settings: {args.set or 'local.py as is'}; "
                  f"busy: {args.busy}", flush=True)
            results = asyncio.run(measure(args, paths))
            load = os.getloadavg()
            print(f"load at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        finally:
            for proc in procs:
                if proc.stdin:
                    proc.stdin.close()
                proc.terminate()
                proc.wait(10)
    print()
    print(table(results, args))


if __name__ == "__main__":
    main()
