"""Added latency of the /v1 gateway, measured against calling the same upstream directly.

The upstream is the test suite's scripted OpenAI server
(testing.upstream.FakeUpstream) in a subprocess. Streams send N
chunks at a fixed interval; each chunk's text carries its sequence number and
the wall-clock time the upstream wrote it ("seq:ns|"), so the client knows how
long every chunk took to reach it. The same requests are made twice, in one
run, with the same httpx client code:

- direct:  POST {upstream}/v1/completions
- gateway: POST {playground}/v1/completions with a gateway key (one daphne
           process serving the real ASGI app, a throwaway SQLite database;
           every call is validated, resolved, recorded as a Run and relayed).

Reported per concurrency level:
- streams: time to first token and per-chunk latency (upstream write -> client
  read), p50 and p99, and what the gateway adds;
- not streamed: requests per second and latency p50/p99.

    .venv/bin/python bench/gateway_bench.py
    .venv/bin/python bench/gateway_bench.py --levels 1,8 --chunks 50 --interval 0.01 --requests 200

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

from bench.common import percentile, setup_playground, start_daphne  # noqa: E402

# ---- the upstream (run as a subprocess) ------------------------------------------


class TimedFrames:
    """The raw SSE body of one stream. FakeUpstream iterates it as it writes
    (sleeping `interval` after each piece), so each chunk is stamped with the
    time it is actually written."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        head = {"id": "cmpl-bench", "object": "text_completion", "created": 0, "model": "bench"}
        for seq in range(self.chunks):
            choice = {"text": f"{seq}:{time.time_ns()}|", "index": 0, "logprobs": None,
                      "finish_reason": None}
            yield f"data: {json.dumps({**head, 'choices': [choice]})}\n\n"
        finish = {"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}
        yield f"data: {json.dumps({**head, 'choices': [finish]})}\n\ndata: [DONE]\n\n"


def serve_upstream(chunks, interval):
    from testing.upstream import FakeUpstream

    upstream = FakeUpstream().start()
    upstream.behave(raw=TimedFrames(chunks), interval=interval)
    print(upstream.url, flush=True)
    # Until the parent closes our stdin (or dies).
    sys.stdin.read()
    upstream.stop()


# ---- measuring ------------------------------------------------------------------


async def one_stream(client, url, headers, body):
    """(ttft ms, [per-chunk latency ms]) of one streamed request."""
    started = time.time_ns()
    first, latencies = None, []
    async with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            now = time.time_ns()
            for choice in json.loads(line[6:])["choices"]:
                for piece in filter(None, choice["text"].split("|")):
                    first = first or now
                    latencies.append((now - int(piece.split(":")[1])) / 1e6)
    return (first - started) / 1e6, latencies


async def streams(client, url, headers, body, level, total):
    ttfts, chunks = [], []
    for _ in range(-(-total // level)):
        for ttft, latencies in await asyncio.gather(
            *(one_stream(client, url, headers, body) for _ in range(level))
        ):
            ttfts.append(ttft)
            chunks += latencies
    return {
        "ttft_p50": percentile(ttfts, 50), "ttft_p99": percentile(ttfts, 99),
        "chunk_p50": percentile(chunks, 50), "chunk_p99": percentile(chunks, 99),
    }


async def requests(client, url, headers, body, level, total):
    """`total` non-streamed requests from `level` concurrent workers."""
    latencies = []
    queue = list(range(total))

    async def worker():
        while queue:
            queue.pop()
            started = time.perf_counter()
            response = await client.post(url, json=body, headers=headers)
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(level)))
    elapsed = time.perf_counter() - started
    return {
        "rps": total / elapsed,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
    }


async def measure(args, upstream_url, app_url, secret):
    import httpx

    direct = (f"{upstream_url}/completions", {}, {"model": "bench"})
    gateway = (f"{app_url}/v1/completions", {"Authorization": f"Bearer {secret}"},
               {"model": "bench"})
    stream_body = {"prompt": "bench", "stream": True}
    plain_body = {"prompt": "bench", "max_tokens": 8}
    levels = [int(x) for x in args.levels.split(",")]
    results = {"streams": [], "requests": []}
    limits = httpx.Limits(max_connections=max(levels) + 8, max_keepalive_connections=max(levels))
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        # Warm-up, not measured: connections, imports, the database file.
        for url, headers, body in (direct, gateway):
            await streams(client, url, headers, {**body, **stream_body}, 1, 3)
            await requests(client, url, headers, {**body, **plain_body}, 1, 20)
        for level in levels:
            d = await streams(client, direct[0], direct[1], {**direct[2], **stream_body},
                              level, args.streams)
            g = await streams(client, gateway[0], gateway[1], {**gateway[2], **stream_body},
                              level, args.streams)
            results["streams"].append((level, d, g))
            print(f"{level:>4} streams: ttft p50 direct {d['ttft_p50']:.2f} / gateway "
                  f"{g['ttft_p50']:.2f} ms; chunk p50 direct {d['chunk_p50']:.2f} / gateway "
                  f"{g['chunk_p50']:.2f} ms", flush=True)
        for level in levels:
            d = await requests(client, direct[0], direct[1], {**direct[2], **plain_body},
                               level, args.requests)
            g = await requests(client, gateway[0], gateway[1], {**gateway[2], **plain_body},
                               level, args.requests)
            results["requests"].append((level, d, g))
            print(f"{level:>4} clients: direct {d['rps']:.0f} req/s, gateway {g['rps']:.0f} "
                  f"req/s", flush=True)
    return results


# ---- the Playground under test ------------------------------------------------------


def gateway_key(data_dir, upstream_url):
    """A throwaway Playground with a model on the upstream: a gateway key's secret."""
    user, _ = setup_playground(data_dir, upstream_url)
    from apps.gateway.models import GatewayKey

    _, secret = GatewayKey.create(user, "bench")
    return secret


def table(results, args):
    lines = [
        f"Streams: {args.chunks} chunks every {args.interval * 1000:g} ms, "
        f"{args.streams} streams per level.",
        "",
        "| streams | TTFT p50 / p99 direct | TTFT p50 / p99 gateway | added TTFT p50 / p99 "
        "| chunk p50 / p99 direct | chunk p50 / p99 gateway | added chunk p50 / p99 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for level, d, g in results["streams"]:
        lines.append(
            f"| {level} | {d['ttft_p50']:.2f} / {d['ttft_p99']:.2f} ms "
            f"| {g['ttft_p50']:.2f} / {g['ttft_p99']:.2f} ms "
            f"| {g['ttft_p50'] - d['ttft_p50']:.2f} / {g['ttft_p99'] - d['ttft_p99']:.2f} ms "
            f"| {d['chunk_p50']:.2f} / {d['chunk_p99']:.2f} ms "
            f"| {g['chunk_p50']:.2f} / {g['chunk_p99']:.2f} ms "
            f"| {g['chunk_p50'] - d['chunk_p50']:.2f} / {g['chunk_p99'] - d['chunk_p99']:.2f} ms |"
        )
    lines += [
        "",
        f"Not streamed: {args.requests} requests per level.",
        "",
        "| clients | direct req/s | gateway req/s | direct p50 / p99 | gateway p50 / p99 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for level, d, g in results["requests"]:
        lines.append(
            f"| {level} | {d['rps']:.0f} | {g['rps']:.0f} "
            f"| {d['p50']:.2f} / {d['p99']:.2f} ms | {g['p50']:.2f} / {g['p99']:.2f} ms |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,8,32", help="concurrency levels")
    parser.add_argument("--chunks", type=int, default=20, help="chunks per stream")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between chunks")
    parser.add_argument("--streams", type=int, default=64, help="streams per level")
    parser.add_argument("--requests", type=int, default=300, help="plain requests per level")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.chunks, args.interval)
        return

    procs = []
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            upstream = subprocess.Popen(
                [sys.executable, __file__, "--serve-upstream", "--chunks", str(args.chunks),
                 "--interval", str(args.interval)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            )
            procs.append(upstream)
            upstream_url = upstream.stdout.readline().strip()
            secret = gateway_key(data_dir, upstream_url)
            daphne, app_url = start_daphne(data_dir)
            procs.append(daphne)
            print(f"one daphne process, SQLite, {os.cpu_count()} cores", flush=True)
            results = asyncio.run(measure(args, upstream_url, app_url, secret))
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
