"""The upstream client alone: httpx's own transport vs ours on aiohttp.

The upstream is versus_bench's (a subprocess: 20 chunks, 20 ms apart; plain
answers at once). One httpx.AsyncClient per transport, taking turns, one
request at a time: per plain call, the time and the CPU this process spent
(both transports run in it, so the CPU is theirs plus httpx's); per stream,
the time to the response's headers and each chunk's latency from the
upstream's write to our read.

    .venv/bin/python bench/transport_bench.py            # ~30 s
    .venv/bin/python bench/transport_bench.py --rounds 5 --calls 400

Loopback only. Not part of the test suite.
"""

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from httpx_sse import EventSource

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apps.inference.client import LIMITS  # noqa: E402
from apps.inference.transport import AiohttpTransport  # noqa: E402
from bench.common import free_port, percentile, stop, wait_for_port  # noqa: E402
from bench.versus_bench import Stream  # noqa: E402

MESSAGES = [{"role": "user", "content": "hi"}]


async def plain(client, url, calls):
    times = []
    cpu = time.process_time()
    for _ in range(calls):
        started = time.perf_counter()
        response = await client.post(url, json={"model": "bench", "messages": MESSAGES})
        response.json()
        times.append((time.perf_counter() - started) * 1000)
    return times, (time.process_time() - cpu) / calls * 1000


async def streams(client, url, count):
    heads, chunks = [], []
    for _ in range(count):
        started = time.perf_counter()
        body = {"model": "bench", "messages": MESSAGES, "stream": True}
        stream = Stream()  # versus_bench's: each chunk's latency from its "seq:ns|"
        async with client.stream("POST", url, json=body) as response:
            heads.append((time.perf_counter() - started) * 1000)
            async for sse in EventSource(response).aiter_sse():
                if sse.data != "[DONE]":
                    for choice in json.loads(sse.data)["choices"]:
                        stream.got(choice["delta"].get("content"))
        chunks += stream.latencies
    return heads, chunks


async def measure(url, args):
    results = {"httpx": [], "aiohttp": []}
    for _ in range(args.rounds):
        for name in results:
            transport = (httpx.AsyncHTTPTransport(limits=LIMITS) if name == "httpx"
                         else AiohttpTransport(LIMITS))
            async with httpx.AsyncClient(transport=transport) as client:
                await plain(client, url, 20)  # warm: a pooled connection
                times, cpu = await plain(client, url, args.calls)
                heads, chunks = await streams(client, url, args.streams)
            results[name].append((times, cpu, heads, chunks))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300, help="plain calls per round")
    parser.add_argument("--streams", type=int, default=20, help="streams per round")
    args = parser.parse_args()
    port = free_port()
    upstream = subprocess.Popen([sys.executable, str(ROOT / "bench" / "versus_bench.py"),
                                 "--serve-upstream", str(port)])
    try:
        wait_for_port(port)
        results = asyncio.run(measure(f"http://127.0.0.1:{port}/v1/chat/completions", args))
    finally:
        stop([upstream])
    print(f"\n{args.rounds} rounds, taking turns; per round {args.calls} plain calls and "
          f"{args.streams} streams of 20 chunks.\n")
    print("| transport | plain call p50 / p99 | CPU per plain call | stream: headers p50 "
          "| chunk latency p50 / p99 |")
    print("| --- | --- | --- | --- | --- |")
    for name, rounds in results.items():
        times = [t for r in rounds for t in r[0]]
        cpu = sum(r[1] for r in rounds) / len(rounds)
        heads = [t for r in rounds for t in r[2]]
        chunks = [t for r in rounds for t in r[3]]
        print(f"| {name} | {percentile(times, 50):.2f} / {percentile(times, 99):.2f} ms "
              f"| {cpu:.2f} ms | {percentile(heads, 50):.2f} ms "
              f"| {percentile(chunks, 50):.2f} / {percentile(chunks, 99):.2f} ms |")


if __name__ == "__main__":
    main()
