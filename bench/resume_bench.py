"""Subscribe after a reload: how soon a page that reconnects has caught up
with a run that is still streaming, in one server process and across two.

One local upstream (relay_bench's) streams a long run (200 chunks, 20 ms
apart; each chunk carries the wall-clock time it was written). Per sample:

1. a websocket to process A starts the run and reads K deltas (default 50,
   ~1 s: past the first checkpoint), then closes (the reload);
2. a new websocket, to process B, sends {"type": "subscribe", "after": 0};
3. measured from sending subscribe: (a) "caught up", the message whose seq
   is the last seq the old socket saw (the page shows what it showed
   before); (b) "first live", the first delta written upstream after
   subscribe was sent (not part of any backlog), and that delta's own
   upstream-write -> client-read latency, and the latency of the next
   live deltas (20 in all);
4. the new socket stops the run and reads to its "done" (so no run outlives
   its sample), and the seqs it got must be 1, 2, 3, ... with no gap or repeat.

One process (the default): A = B, SQLite and the in-memory channel layer (the
embedded set-up). Two processes (--two-processes): A and B are two daphne
processes sharing one PostgreSQL database and Redis (the production shape):
B finds the run in the database, asks A for it over the channel layer and
relays A's backlog and live events. --same-process with PostgreSQL + Redis
subscribes on A instead, to tell the database from the hop between processes.

    .venv/bin/python bench/resume_bench.py                 # one process, SQLite (~1 min)
    .venv/bin/python bench/resume_bench.py --two-processes \\
        --database-url postgres://postgres@127.0.0.1:5432/playground_bench \\
        --redis-url redis://127.0.0.1:6379/7

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

LIVE_CHUNKS = 20  # live deltas read after the reload, for their latency
TIMEOUT = 30  # seconds for any one message: a stuck sample fails, the script goes on


async def connect(ws_url, cookie):
    import websockets

    return await websockets.connect(
        ws_url,
        additional_headers={"Cookie": cookie, "Origin": origin_of(ws_url)},
        max_queue=None,
        open_timeout=TIMEOUT,
    )


async def receive(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


def written_ns(text):
    """The upstream's write time of the last chunk in a delta ("seq:ns|")."""
    pieces = [p for p in text.split("|") if p]
    return int(pieces[-1].split(":")[1]) if pieces else None


async def sample(url_a, url_b, cookie, model_uuid, chunks, read_before, where):
    """One reload: a dict of timings (ms) and counts. `where` says how far it
    got (for a failed sample's report)."""
    where["stage"] = "starting the run"
    ws = await connect(url_a, cookie)
    try:
        await ws.send(json.dumps({
            "type": "run", "mode": "completions", "model": model_uuid, "conversation": None,
            "body": {"prompt": "bench", "max_tokens": chunks, "stream": True},
        }))
        run_uuid, last_seq, deltas = None, 0, 0
        while deltas < read_before:
            message = await receive(ws)
            if message["type"] == "errors":
                raise RuntimeError(message)
            if message["type"] == "started":
                run_uuid = message["run"]
                continue
            last_seq = max(last_seq, message["seq"])
            deltas += message["type"] == "delta"
            if message["type"] == "done":
                raise RuntimeError("the run ended before the reload")
    finally:
        await ws.close()

    where.update(stage="subscribing", run=run_uuid, last_seq=last_seq)
    connecting = time.perf_counter()
    ws = await connect(url_b, cookie)
    try:
        connected = time.perf_counter()
        subscribed_ns = time.time_ns()
        subscribed = time.perf_counter()
        await ws.send(json.dumps({"type": "subscribe", "run": run_uuid, "after": 0}))
        caught_up = first_live = live_latency = None
        seqs = []
        while first_live is None:
            message = await receive(ws)
            now, now_ns = time.perf_counter(), time.time_ns()
            if message["type"] in ("errors", "error", "done"):
                raise RuntimeError(f"subscribe got {message}")
            seqs.append(message["seq"])
            where["seqs"] = f"{seqs[0]}..{seqs[-1]} ({len(seqs)} messages)"
            if message["seq"] == last_seq:
                caught_up = now
            if message["type"] == "delta" and caught_up is not None:
                written = written_ns(message["text"])
                if written is not None and written > subscribed_ns:
                    first_live = now
                    live_latency = (now_ns - written) / 1e6
        backlog = sum(1 for s in seqs if s <= last_seq)
        # The live events after the first: how late each arrives once the
        # new socket is caught up (write upstream -> read here).
        where["stage"] = "reading live events"
        live = [live_latency]
        while len(live) < LIVE_CHUNKS:
            message = await receive(ws)
            seqs.append(message["seq"])
            if message["type"] == "done":
                raise RuntimeError("the run ended while it was watched")
            if message["type"] == "delta" and (written := written_ns(message["text"])):
                live.append((time.time_ns() - written) / 1e6)
        where["stage"] = "stopping"
        await ws.send(json.dumps({"type": "stop", "run": run_uuid}))
        # To the end of the run, bounded: the stop ends it within a chunk or two.
        for _ in range(chunks + 10):
            message = await receive(ws)
            seqs.append(message["seq"])
            if message["type"] == "done":
                break
        in_order = seqs == list(range(1, len(seqs) + 1))
    finally:
        await ws.close()
    return {
        "connect": (connected - connecting) * 1000,
        "caught_up": (caught_up - subscribed) * 1000,
        "first_live": (first_live - subscribed) * 1000,
        "live_latency": live_latency,
        "live": live,
        "backlog": backlog,
        "in_order": in_order,
    }


async def measure(url_a, url_b, cookie, model_uuid, samples, warmup, chunks, read_before):
    results, failures = [], 0
    for i in range(warmup + samples):
        where = {}
        try:
            result = await asyncio.wait_for(
                sample(url_a, url_b, cookie, model_uuid, chunks, read_before, where), 4 * TIMEOUT
            )
        except Exception as exc:  # noqa: BLE001 (counted and shown; the next sample goes on)
            print(f"sample {i + 1}: failed: {exc!r} {where}", flush=True)
            failures += 1
            continue
        if i >= warmup:  # the first samples open connections, fill caches
            results.append(result)
        if (i + 1) % 10 == 0:
            print(f"{i + 1} samples", flush=True)
    return results, failures


def ensure_database(url):
    """Create the PostgreSQL database of `url` if it is missing (kept between
    runs; setup_playground migrates it)."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    with psycopg.connect(
        host=config["HOST"], port=config["PORT"] or 5432, user=config["USER"],
        password=config["PASSWORD"] or None, dbname="postgres", autocommit=True,
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (config["NAME"],)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--read-before", type=int, default=50,
                        help="deltas the first socket reads before it closes (K)")
    parser.add_argument("--two-processes", action="store_true",
                        help="run on process A, subscribe on process B (needs both URLs)")
    parser.add_argument("--same-process", action="store_true",
                        help="with the URLs: subscribe on A, as a one-process baseline")
    parser.add_argument("--database-url", help="PostgreSQL, shared by both processes")
    parser.add_argument("--redis-url", help="the channel layer, shared by both processes")
    args = parser.parse_args()
    if args.two_processes and not (args.database_url and args.redis_url):
        parser.error("--two-processes needs --database-url and --redis-url")
    if args.database_url:
        # This process and the daphne processes (which inherit the
        # environment) use the same database and channel layer.
        ensure_database(args.database_url)
        os.environ["DATABASE_URL"] = args.database_url
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url

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
            daphne_a, app_a = start_daphne(data_dir)
            procs.append(daphne_a)
            app_b = app_a
            if args.two_processes and not args.same_process:
                daphne_b, app_b = start_daphne(data_dir)
                procs.append(daphne_b)
            wait_for_port(upstream_port)
            from django.conf import settings

            shape = (
                f"{settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[1]}, "
                f"{settings.CHANNEL_LAYERS['default']['BACKEND'].rsplit('.', 1)[1]}, "
                f"{'two processes (run on A, subscribe on B)' if app_b != app_a else 'one process'}"
            )
            print(
                f"{shape}; {args.chunks} chunks every {args.interval * 1000:.0f} ms, reload "
                f"after {args.read_before}; {os.cpu_count()} cores; "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            results, failures = asyncio.run(measure(
                f"ws://{app_a.removeprefix('http://')}/ws/run/",
                f"ws://{app_b.removeprefix('http://')}/ws/run/",
                cookie, model_uuid, args.samples, args.warmup, args.chunks, args.read_before,
            ))
        finally:
            stop(procs)
    print(f"load after: {os.getloadavg()[0]:.2f}")

    def p(key):
        if key == "live_chunks":
            values = [x for r in results for x in r["live"]]
        else:
            values = [r[key] for r in results]
        return f"{percentile(values, 50):.2f} / {percentile(values, 99):.2f} ms"

    print(
        "\n| set-up | samples | backlog msgs p50 | connect p50 / p99 | caught up p50 / p99 "
        "| first live p50 / p99 | its latency p50 / p99 | next 20 live chunks' latency "
        "p50 / p99 | out of order | failed |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {shape} | {len(results)} | {percentile([r['backlog'] for r in results], 50)} "
        f"| {p('connect')} | {p('caught_up')} | {p('first_live')} | {p('live_latency')} "
        f"| {p('live_chunks')} | {sum(not r['in_order'] for r in results)} | {failures} |"
    )


if __name__ == "__main__":
    main()
