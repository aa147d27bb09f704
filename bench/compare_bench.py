"""Compare's cost: 6 panes started together on one websocket, against one run.

The same local upstream as the relay benchmark (relay_bench.py: N chunks at a
fixed interval, each carrying its sequence number and send time) and the same
throwaway Playground (one daphne process, SQLite). In one run:

- single: one socket sends one run; time to its first token;
- compare: one socket sends `{"type": "run", "runs": [6 panes]}` (as the
  Compare page does); time from that message to each pane's first token.

Reported: TTFT p50 / p99 of the single run and of every pane, and the
difference (what a pane pays for sharing the socket and the process with
five others). At least 40 single runs and 40 rounds of 6 panes, after a
warm-up.

    .venv/bin/python bench/compare_bench.py
    .venv/bin/python bench/compare_bench.py --panes 6 --rounds 60

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

from bench.common import free_port, percentile, start_daphne, stop, wait_for_port  # noqa: E402
from bench.relay_bench import origin_of, session_for  # noqa: E402


async def round_trip(ws_url, cookie, model_uuid, body, panes):
    """Send `panes` runs in one message; TTFT (ms) of each, from the send."""
    import websockets

    async with websockets.connect(
        ws_url, additional_headers={"Cookie": cookie, "Origin": origin_of(ws_url)},
        max_queue=None, open_timeout=60,
    ) as ws:
        runs = [{"ref": str(i), "mode": "completions", "model": model_uuid,
                 "conversation": None, "body": body} for i in range(panes)]
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "run", "runs": runs}))
        first, done = {}, 0
        async with asyncio.timeout(120):
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "errors":
                    raise RuntimeError(message)
                if message["type"] == "delta" and message["run"] not in first:
                    first[message["run"]] = (time.perf_counter() - sent) * 1000
                elif message["type"] == "done":
                    done += 1
                    if done == panes:
                        break
    if len(first) != panes:
        raise RuntimeError(f"{panes - len(first)} pane(s) got no token")
    return list(first.values())


async def measure(ws_url, cookie, model_uuid, chunks, panes, rounds):
    body = {"prompt": "bench", "max_tokens": chunks, "stream": True}
    for _ in range(3):  # warm-up: connections, imports, the database file
        await round_trip(ws_url, cookie, model_uuid, body, 1)
        await round_trip(ws_url, cookie, model_uuid, body, panes)
    single, compare = [], []
    # Interleaved, so drifts in machine load hit both alike.
    for _ in range(rounds):
        single += await round_trip(ws_url, cookie, model_uuid, body, 1)
        compare += await round_trip(ws_url, cookie, model_uuid, body, panes)
    return single, compare


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panes", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()

    upstream_port = free_port()
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    procs = []
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            procs.append(subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "relay_bench.py"), "--serve-upstream",
                 str(upstream_port), "--chunks", str(args.chunks),
                 "--interval", str(args.interval)]
            ))
            cookie, model_uuid = session_for(data_dir, upstream_url)
            daphne, app_url = start_daphne(data_dir)
            procs.append(daphne)
            wait_for_port(upstream_port)
            ws_url = f"ws://{app_url.removeprefix('http://')}/ws/run/"
            print(f"{args.panes} panes vs 1 run, {args.rounds} rounds each; "
                  f"one daphne process; {os.cpu_count()} cores", flush=True)
            single, compare = asyncio.run(
                measure(ws_url, cookie, model_uuid, args.chunks, args.panes, args.rounds)
            )
        finally:
            stop(procs)

    s50, s99 = percentile(single, 50), percentile(single, 99)
    c50, c99 = percentile(compare, 50), percentile(compare, 99)
    print("\n| | TTFT p50 | TTFT p99 | samples |")
    print("| --- | --- | --- | --- |")
    print(f"| 1 run | {s50:.2f} ms | {s99:.2f} ms | {len(single)} |")
    print(f"| each of {args.panes} panes | {c50:.2f} ms | {c99:.2f} ms | {len(compare)} |")
    print(f"| added per pane | {c50 - s50:.2f} ms | {c99 - s99:.2f} ms | |")


if __name__ == "__main__":
    main()
