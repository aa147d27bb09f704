"""Evaluation batches: 1,000 cells through the task engine and its workers.

The test upstream (testing/upstream.py) answers each request after 20 ms.
A preset with 1,000 test cases is run on one pane (1,000 cells) with the
provider's batch_concurrency at 8 and at 32; `--workers` evals_worker
processes (each with as many threads as the bound) share the batch. The
workers are started first (their start-up is not measured); the clock runs
from "Run all" (the batch and its 1,000 tasks committed) to the last cell
stored. Checked after each batch: every cell done with a completed run,
exactly one run per cell, one upstream request per cell (no case twice), and
never more requests in flight than the bound.

    .venv/bin/python bench/batch_bench.py                       # SQLite, 1 worker
    DATABASE_URL=postgres://... REDIS_URL=redis://... \\
        .venv/bin/python bench/batch_bench.py --workers 2       # PostgreSQL + Redis

Loopback only; every wait is bounded. Not part of the test suite.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import setup_playground  # noqa: E402
from testing.upstream import FakeUpstream  # noqa: E402


def start_workers(count, threads, data_dir):
    env = {**os.environ, "PLAYGROUND_DATA_DIR": data_dir, "LOG_LEVEL": "WARNING",
           "PLAYGROUND_LOCAL_MODEL": "0"}
    return [
        subprocess.Popen([sys.executable, "manage.py", "evals_worker", "--threads", str(threads)],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        for _ in range(count)
    ]


def one_batch(user, model, upstream, cells, concurrency, workers, data_dir):
    from apps.cases.models import Case
    from apps.evals import batches
    from apps.evals.models import Batch, Cell
    from apps.history.models import Run
    from apps.presets.models import Preset

    model.provider.batch_concurrency = concurrency
    model.provider.save()
    preset = Preset.create(user, f"bench {concurrency}", "", "completions", model,
                           {"prompt": "Case {{n}}", "max_tokens": 8})
    Case.append(preset, [{"n": str(i)} for i in range(cells)])
    processes = start_workers(workers, concurrency, data_dir)
    time.sleep(4)  # their start-up (Django, the first poll) is not measured
    upstream.reset()
    upstream.behave(latency=0.02, text="ok")
    try:
        started = time.perf_counter()
        batch = batches.start(user, preset, [str(model.uuid)])
        deadline = time.monotonic() + 900
        while Cell.objects.filter(batch=batch, status__in=Cell.OPEN).exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the batch did not finish in 900 s")
            time.sleep(0.05)
        wall = time.perf_counter() - started
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(30)
    batch.refresh_from_db()
    done = Cell.objects.filter(batch=batch, status=Cell.Status.DONE, run__status=Run.COMPLETED)
    runs = Run.objects.filter(cell__batch=batch).count()
    prompts = [r.json["prompt"] for r in upstream.requests if r.json]
    return {
        "wall": wall, "rate": cells / wall, "done": done.count(), "runs": runs,
        "requests": len(prompts), "distinct": len(set(prompts)),
        "max_in_flight": upstream.max_in_flight, "finished": batch.status == Batch.Status.FINISHED,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()

    upstream = FakeUpstream().start()
    with tempfile.TemporaryDirectory() as data_dir:
        user, model = setup_playground(data_dir, upstream.url)
        from django.db import connection

        print(f"database: {connection.vendor}, workers: {args.workers}, cells: {args.cells}, "
              "upstream: 20 ms per answer")
        print(f"{'bound':>5} {'wall s':>8} {'cells/s':>8} {'done':>5} {'runs':>5} "
              f"{'sent':>5} {'distinct':>8} {'max in flight':>13}")
        for concurrency in args.concurrency:
            r = one_batch(user, model, upstream, args.cells, concurrency, args.workers, data_dir)
            print(f"{concurrency:>5} {r['wall']:>8.1f} {r['rate']:>8.1f} {r['done']:>5} "
                  f"{r['runs']:>5} {r['requests']:>5} {r['distinct']:>8} {r['max_in_flight']:>13}")
            ok = (r["finished"] and r["done"] == r["runs"] == r["requests"] == r["distinct"]
                  == args.cells and r["max_in_flight"] <= concurrency)
            if not ok:
                print("  NOT OK: something was lost, run twice, or over the bound")
    upstream.stop()


if __name__ == "__main__":
    main()
