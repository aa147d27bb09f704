"""What the run engine's checkpoints cost: the relay workload with checkpoints
effectively off, at the default interval (1 s) and at 0.1 s.

One local upstream (relay_bench's) streams N chunks at a fixed interval; one
daphne process per checkpoint interval serves Playground on one throwaway
SQLite database (PLAYGROUND_RUN_CHECKPOINT_SECONDS=100000 is "off": no run
lives that long, so only the final save is written). The same fixed workload
(per level, a number of streams in rounds of `level` concurrent streams over
the playground websocket) goes to each process in turn, the order rotating
from one repeat to the next, so machine noise hits every interval alike.

Reported per level and interval: chunks delivered per second of wall time,
the daphne process's CPU seconds (user + system, all threads: /proc/<pid>/stat)
per 1,000 chunks delivered, relay chunk latency p50, and both against "off".

    .venv/bin/python bench/checkpoint_bench.py            # 1, 32, 512 streams (~8 min)
    .venv/bin/python bench/checkpoint_bench.py --levels 1,32 --repeats 1

Loopback only; every loop is bounded. Not part of the test suite.
"""

import argparse
import asyncio
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
    start_daphne,
    stop,
    wait_for_port,
)
from bench.relay_bench import relay_stream, session_for  # noqa: E402

OFF = "100000"  # seconds: longer than any run here, so no checkpoint before the end


def label(interval):
    return "off" if interval == OFF else f"{interval} s"


async def workload(ws_url, cookie, model_uuid, body, level, streams):
    """`streams` streams in rounds of `level` concurrent ones: (streams, failures)."""
    done, failed = [], 0
    for _ in range(max(1, -(-streams // level))):
        results = await asyncio.wait_for(
            asyncio.gather(
                *(relay_stream(ws_url, cookie, model_uuid, body) for _ in range(level)),
                return_exceptions=True,
            ),
            timeout=600,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        failed += len(errors)
        # What failed, once per kind: a timeout, a closed socket, an errors message.
        for kind in sorted({repr(e)[:200] for e in errors})[:3]:
            print(f"  a stream failed: {kind}", flush=True)
        done += [r for r in results if not isinstance(r, BaseException)]
    return done, failed


async def measure(servers, levels, streams_for, repeats, chunks, cookie, model_uuid):
    body = {"prompt": "bench", "max_tokens": chunks, "stream": True}
    # Warm-up, not measured: each process's imports, caches, connections.
    for _interval, (_process, ws_url) in servers.items():
        for _ in range(3):
            await relay_stream(ws_url, cookie, model_uuid, body)
    totals = {}  # (level, interval) -> [wall s, cpu s, chunks, latencies, failed]
    order = list(servers)
    for repeat in range(repeats):
        for level in levels:
            # Rotate which interval goes first, so none always runs right
            # after the same neighbour.
            for interval in order[repeat % len(order):] + order[:repeat % len(order)]:
                process, ws_url = servers[interval]
                cpu = cpu_seconds(process.pid)
                started = time.perf_counter()
                streams, failed = await workload(
                    ws_url, cookie, model_uuid, body, level, streams_for[level]
                )
                wall = time.perf_counter() - started
                cpu = cpu_seconds(process.pid) - cpu
                delivered = sum(len(set(s.seqs)) for s in streams)
                t = totals.setdefault((level, interval), [0.0, 0.0, 0, [], 0])
                t[0] += wall
                t[1] += cpu
                t[2] += delivered
                t[3] += [x for s in streams for x in s.latencies]
                t[4] += failed
                print(
                    f"repeat {repeat + 1}, {level:>3} streams, checkpoints {label(interval):>6}: "
                    f"{delivered} chunks in {wall:.2f} s, daphne cpu {cpu:.2f} s, "
                    f"failed {failed}",
                    flush=True,
                )
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,32,512")
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--checkpoints", default=f"{OFF},1,0.1",
                        help="checkpoint intervals in seconds, the first the baseline")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--streams", default="10,64,512",
                        help="streams per level and repeat (one figure per level)")
    args = parser.parse_args()

    levels = [int(x) for x in args.levels.split(",")]
    streams_for = dict(zip(levels, (int(x) for x in args.streams.split(",")), strict=False))
    for level in levels:
        streams_for.setdefault(level, level)
    intervals = args.checkpoints.split(",")
    upstream_port = free_port()
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    procs = []
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            procs.append(subprocess.Popen([
                sys.executable, str(ROOT / "bench" / "relay_bench.py"),
                "--serve-upstream", str(upstream_port),
                "--chunks", str(args.chunks), "--interval", str(args.interval),
            ]))
            cookie, model_uuid = session_for(data_dir, upstream_url)
            servers = {}
            for interval in intervals:
                daphne, app_url = start_daphne(
                    data_dir, env={"PLAYGROUND_RUN_CHECKPOINT_SECONDS": interval}
                )
                procs.append(daphne)
                servers[interval] = (daphne, f"ws://{app_url.removeprefix('http://')}/ws/run/")
            wait_for_port(upstream_port)
            print(
                f"{args.chunks} chunks every {args.interval * 1000:.0f} ms per stream; "
                f"one daphne process per checkpoint interval, used one at a time; "
                f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            totals = asyncio.run(measure(
                servers, levels, streams_for, args.repeats, args.chunks, cookie, model_uuid
            ))
        finally:
            stop(procs)
    print(f"load after: {os.getloadavg()[0]:.2f}")

    print(
        "\n| streams | checkpoints | chunks | chunks/s | vs off | daphne CPU s / 1,000 chunks "
        "| vs off | relay chunk p50 / p99 | failed |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    base = intervals[0]
    for level in levels:
        b_wall, b_cpu, b_chunks, _, _ = totals[(level, base)]
        b_rate, b_per = b_chunks / b_wall, 1000 * b_cpu / max(b_chunks, 1)
        for interval in intervals:
            wall, cpu, chunks, latencies, failed = totals[(level, interval)]
            rate, per = chunks / wall, 1000 * cpu / max(chunks, 1)
            print(
                f"| {level} | {label(interval)} | {chunks} | {rate:.0f} "
                f"| {100 * (rate / b_rate - 1):+.1f} % | {per:.3f} "
                f"| {100 * (per / b_per - 1):+.1f} % "
                f"| {percentile(latencies, 50):.2f} / {percentile(latencies, 99):.2f} ms "
                f"| {failed} |"
            )


if __name__ == "__main__":
    main()
