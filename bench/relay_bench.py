"""Relay overhead of the playground websocket, measured against a direct stream.

One local upstream streams N chunks at a fixed interval; each chunk's text
carries its sequence number and the wall-clock time the upstream wrote it
("seq:ns|"). The same streams are read twice, in one run:

- direct: httpx reads the upstream's SSE itself;
- relay:  a websocket client asks Playground (one daphne process, the real
          ASGI app, a throwaway SQLite database) to run the same request, and
          reads the deltas the consumer relays.

Reported per concurrency level: time to first token (p50, p99), per-chunk
latency from the upstream's write to the client's read (p50, p99), chunks
lost, chunks merged, and the added TTFT / per-chunk latency of the relay.

    .venv/bin/python bench/relay_bench.py                 # 1, 8, 32, 128, 512 streams
    .venv/bin/python bench/relay_bench.py --levels 1,8 --chunks 50 --interval 0.01

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
    free_port,
    percentile,
    setup_playground,
    start_daphne,
    stop,
    wait_for_port,
)

# ---- the upstream: a minimal OpenAI-protocol SSE server (run as a subprocess) ----


async def serve_upstream(port, chunks, interval):
    async def handle(reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            for seq in range(chunks):
                await asyncio.sleep(interval)
                chunk = {
                    "id": "cmpl-bench",
                    "object": "text_completion",
                    "created": 0,
                    "model": "bench",
                    "choices": [
                        {"index": 0, "text": f"{seq}:{time.time_ns()}|", "finish_reason": None}
                    ],
                }
                writer.write(f"data: {json.dumps(chunk)}\n\n".encode())
                await writer.drain()
            final = {
                "id": "cmpl-bench",
                "object": "text_completion",
                "created": 0,
                "model": "bench",
                "choices": [{"index": 0, "text": "", "finish_reason": "stop"}],
            }
            writer.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


# ---- measuring ------------------------------------------------------------------


class Stream:
    """What one client saw of one stream."""

    def __init__(self):
        self.started = time.time_ns()
        self.first = None
        self.latencies = []  # ms, upstream write -> client read, per chunk
        self.seqs = []
        self.merged = 0

    def got(self, text):
        now = time.time_ns()
        pieces = [p for p in text.split("|") if p]
        if not pieces:
            return
        if self.first is None:
            self.first = now
        if len(pieces) > 1:
            self.merged += len(pieces) - 1
        for piece in pieces:
            seq, sent = piece.split(":")
            self.seqs.append(int(seq))
            self.latencies.append((now - int(sent)) / 1e6)

    @property
    def ttft_ms(self):
        return None if self.first is None else (self.first - self.started) / 1e6


async def direct_stream(client, upstream_url, body):
    s = Stream()
    async with client.stream("POST", upstream_url, json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                for choice in json.loads(line[6:])["choices"]:
                    s.got(choice["text"])
    return s


def origin_of(ws_url):
    """The page's origin for a websocket URL: Playground accepts a socket
    only from its own scheme, host and port."""
    return "http://" + ws_url.removeprefix("ws://").split("/", 1)[0]


async def relay_stream(ws_url, cookie, model_uuid, body):
    import websockets

    s = Stream()
    async with websockets.connect(
        ws_url,
        additional_headers={"Cookie": cookie, "Origin": origin_of(ws_url)},
        max_queue=None,
        open_timeout=60,
    ) as ws:
        s.started = time.time_ns()
        await ws.send(
            json.dumps(
                {
                    "type": "run",
                    "mode": "completions",
                    "model": model_uuid,
                    "conversation": None,
                    "body": body,
                }
            )
        )
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "delta":
                s.got(message["text"])
            elif message["type"] in ("done", "errors"):
                if message["type"] == "errors":
                    raise RuntimeError(message)
                break
    return s


def summarize(streams, chunks):
    ttfts = [s.ttft_ms for s in streams if s.ttft_ms is not None]
    latencies = [x for s in streams for x in s.latencies]
    lost = sum(chunks - len(set(s.seqs)) for s in streams)
    merged = sum(s.merged for s in streams)
    return {
        "ttft_p50": percentile(ttfts, 50),
        "ttft_p99": percentile(ttfts, 99),
        "chunk_p50": percentile(latencies, 50),
        "chunk_p99": percentile(latencies, 99),
        "lost": lost,
        "merged": merged,
    }


async def measure(
    levels, chunks, interval, upstream_url, ws_url, cookie, model_uuid, min_streams=40
):
    import httpx

    body = {"prompt": "bench", "max_tokens": chunks, "stream": True}
    results = []
    limits = httpx.Limits(max_connections=max(levels) + 10)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        # Warm-up, not measured: first connections, imports, caches, the database file.
        for _ in range(3):
            await direct_stream(client, upstream_url, {**body, "model": "bench"})
            await relay_stream(ws_url, cookie, model_uuid, body)
        for level in levels:
            # Rounds of `level` concurrent streams, enough for stable percentiles.
            rounds = max(1, -(-min_streams // level))
            direct, relay = [], []
            for _ in range(rounds):
                direct += await asyncio.gather(
                    *(
                        direct_stream(client, upstream_url, {**body, "model": "bench"})
                        for _ in range(level)
                    )
                )
                relay += await asyncio.wait_for(
                    asyncio.gather(
                        *(relay_stream(ws_url, cookie, model_uuid, body) for _ in range(level)),
                        return_exceptions=True,
                    ),
                    timeout=300,
                )
            failed = [r for r in relay if isinstance(r, BaseException)]
            relay = [r for r in relay if not isinstance(r, BaseException)]
            d, r = summarize(direct, chunks), summarize(relay, chunks)
            r["lost"] += len(failed) * chunks
            results.append((level, d, r, len(failed)))
            print(
                f"{level:>4} streams x {rounds} rounds: direct ttft p50 {d['ttft_p50']:.2f} ms, "
                f"relay ttft p50 {r['ttft_p50']:.2f} ms, relay chunk p50 {r['chunk_p50']:.2f} ms, "
                f"lost {r['lost']}, merged {r['merged']}, failed streams {len(failed)}",
                flush=True,
            )
    return results


def session_for(data_dir, upstream_url):
    """A throwaway Playground's session cookie and the uuid of its model."""
    user, model = setup_playground(data_dir, upstream_url)
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return cookie, str(model.uuid)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,8,32,128,512")
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        asyncio.run(serve_upstream(args.serve_upstream, args.chunks, args.interval))
        return

    levels = [int(x) for x in args.levels.split(",")]
    upstream_port = free_port()
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    procs = []
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--serve-upstream",
                        str(upstream_port),
                        "--chunks",
                        str(args.chunks),
                        "--interval",
                        str(args.interval),
                    ]
                )
            )
            cookie, model_uuid = session_for(data_dir, upstream_url)
            daphne, app_url = start_daphne(data_dir)
            procs.append(daphne)
            wait_for_port(upstream_port)
            print(
                f"{args.chunks} chunks every {args.interval * 1000:.0f} ms per stream; "
                f"one daphne process; {os.cpu_count()} cores",
                flush=True,
            )
            results = asyncio.run(
                measure(
                    levels,
                    args.chunks,
                    args.interval,
                    f"{upstream_url}/completions",
                    f"ws://{app_url.removeprefix('http://')}/ws/run/",
                    cookie,
                    model_uuid,
                )
            )
        finally:
            stop(procs)

    print(
        "\n| streams | direct TTFT p50 / p99 | relay TTFT p50 / p99 | added TTFT p50 / p99 "
        "| direct chunk p50 / p99 | relay chunk p50 / p99 | added chunk p50 / p99 | lost | merged |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for level, d, r, _failed in results:
        print(
            f"| {level} | {d['ttft_p50']:.2f} / {d['ttft_p99']:.2f} ms "
            f"| {r['ttft_p50']:.2f} / {r['ttft_p99']:.2f} ms "
            f"| {r['ttft_p50'] - d['ttft_p50']:.2f} / {r['ttft_p99'] - d['ttft_p99']:.2f} ms "
            f"| {d['chunk_p50']:.2f} / {d['chunk_p99']:.2f} ms "
            f"| {r['chunk_p50']:.2f} / {r['chunk_p99']:.2f} ms "
            f"| {r['chunk_p50'] - d['chunk_p50']:.2f} / {r['chunk_p99'] - d['chunk_p99']:.2f} ms "
            f"| {r['lost']} | {r['merged']} |"
        )


if __name__ == "__main__":
    main()
