"""Would reading the embedded model in-process, without HTTP, be faster?

xllamacpp's `Server.handle_completions(json, callback)` runs a completion
without llama.cpp's HTTP server: the callback gets each streamed chunk (a
JSON string) on the calling thread, and returning True stops the run. The
adapter instead reads llama.cpp's loopback HTTP server like any upstream
(aiohttp under httpx, SSE parsing; apps/inference/client.py).

This probe runs both in one process, with the model started as local.py
starts it, at 1 and 4 concurrent streams, the order alternating by round:

- http:     apps.inference.client.stream(), the adapter's whole way to events;
- callback: handle_completions in a thread, each chunk handed to the event
            loop (call_soon_threadsafe) and parsed with json.loads.

    .venv/bin/python bench/embedded_callback_probe.py --rounds 4 --tokens 128

Not part of the test suite; the figures are in bench/README.md.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")

PROMPT = "Once upon a time, in a small village by the sea, there lived"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()

    import django

    django.setup()
    from apps.inference import local
    from apps.inference.client import stream

    local.ensure_started()
    server = local._server
    body = {"model": local.LOCAL_MODEL_ID, "prompt": PROMPT, "max_tokens": args.tokens,
            "ignore_eos": True, "temperature": 0, "seed": 1}

    async def via_http():
        async for _ in stream(local.local_target(), "completions", body):
            pass

    async def via_callback():
        loop = asyncio.get_running_loop()
        chunks = asyncio.Queue()

        def take(chunk):
            loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            return False  # go on

        def run():
            server.handle_completions(json.dumps({**body, "stream": True}), take)
            loop.call_soon_threadsafe(chunks.put_nowait, None)

        runner = loop.run_in_executor(None, run)
        while (chunk := await chunks.get()) is not None:
            json.loads(chunk)
        await runner

    async def rate(path, streams):
        started = time.perf_counter()
        await asyncio.gather(*(path() for _ in range(streams)))
        return args.tokens * streams / (time.perf_counter() - started)

    async def probe():
        await via_http()
        await via_callback()  # both warm
        rates = {}
        paths = [("http", via_http), ("callback", via_callback)]
        for round_ in range(args.rounds):
            for name, path in paths if round_ % 2 == 0 else paths[::-1]:
                for streams in (1, 4):
                    rates.setdefault((name, streams), []).append(await rate(path, streams))
        print(f"{os.cpu_count()} cores, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"{args.tokens} tokens a stream; {args.rounds} rounds")
        print("\n| streams | http tokens/s | callback tokens/s | callback / http |")
        print("| --- | --- | --- | --- |")
        for streams in (1, 4):
            http = statistics.median(rates[("http", streams)])
            callback = statistics.median(rates[("callback", streams)])
            print(f"| {streams} | {http:.1f} | {callback:.1f} | {callback / http:.2f} |")

    asyncio.run(probe())


if __name__ == "__main__":
    main()
