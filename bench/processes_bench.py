"""One Playground process against two, behind nginx, on the production shape
(issue 13 item 5).

PostgreSQL + Redis (DATABASE_URL and REDIS_URL; by default the local ones,
database `playground_bench`, created if missing, Redis db 9), nginx from
Debian configured by the repository's deploy/nginx.conf (only its listen
port and server lines replaced, as apps/runs/tests/test_behind_nginx.py does)
and daphne processes started the way the Makefile starts them. The upstream
is versus_bench.py's (a subprocess: N chat chunks `interval` apart, plain
answers at once).

Both configurations go through nginx, so the proxy's own hop is in both and
the ratio is the processes' alone. Per configuration: not-streamed calls at
1, 8 and 32 clients (req/s, p50/p99), streams at 1, 8 and 32 (TTFT p50,
per-chunk p50, lost chunks) and the CPU seconds of the daphne processes and
of nginx per 1,000 calls.

    sudo apt-get install nginx     # `make test` installs it too
    .venv/bin/python bench/processes_bench.py                 # ~2 min
    sudo apt-get install wrk       # it makes the plain calls
    .venv/bin/python bench/processes_bench.py --processes 1,2,3 --seconds 5

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
    start_daphne,
    stop,
    wait_for_port,
)
from bench.versus_bench import (  # noqa: E402
    Target,
    add_plain_call_options,
    check_plain_call_options,
    client_for,
    count_runs_from_now,
    plain_calls,
    plain_phase,
    playground,
    requests,
    streams,
    warmed,
)
from testing import nginx as nginx_server  # noqa: E402

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/playground_bench"
REDIS_URL = "redis://127.0.0.1:6379/9"


class Servers(Target):
    """Every process behind the balancer: their CPU adds up."""

    def __init__(self, name, url, headers, pids):
        super().__init__(name, url, headers, "bench", pids[0], playground=True)
        self.pids = pids

    def cpu_seconds(self):
        return sum(cpu_seconds(pid) for pid in self.pids)


def create_database(url):
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def start_nginx(workdir, backend_ports):
    if nginx_server.binary() is None:
        raise SystemExit("nginx is not installed (sudo apt-get install nginx)")
    port = free_port()
    process = nginx_server.start(workdir, backend_ports, port)
    wait_for_port(port)
    return process, f"http://127.0.0.1:{port}"


def nginx_pids(master):
    # The master only forks; its worker does the proxying.
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return [master.pid, *map(int, children)]


async def measure(args, target):
    levels = [int(x) for x in args.levels.split(",")]
    out = {"streams": {}, "requests": {}}
    await count_runs_from_now()  # a kept database may hold earlier runs
    async with client_for(4) as client:
        await streams(target, client, 1, 3, args.chunks, None)  # warm-up, not measured
        await requests(target, client, 4, 40)
        target.cpu, target.calls = 0.0, 0
    for level in levels:
        async with client_for(level) as client:  # a pool of its own (versus_bench)
            await warmed(target, client, level)
            r = await streams(target, client, level, args.streams, args.chunks, None)
        out["streams"][level] = r
        print(f"{level:>3} streams {target.name}: TTFT p50 {r['ttft_p50']:7.2f} ms, "
              f"chunk p50 {r['chunk_p50']:6.2f} ms, lost {r['lost']}", flush=True)
    for level in levels:
        r = await plain_phase(target, level, args)
        out["requests"][level] = r
        print(f"{level:>3} clients {target.name}: {r['rps']:7.0f} req/s, p50 "
              f"{r['p50']:.2f} / p99 {r['p99']:.2f} ms, errors {r['errors']}", flush=True)
    out["cpu"] = 1000 * target.cpu / max(1, target.calls)
    return out


def table(results, levels):
    names = list(results)
    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]

    def row(label, cell):
        lines.append(f"| {label} | " + " | ".join(cell(results[n]) for n in names) + " |")

    for level in levels:
        row(f"not streamed req/s, {level} client{'s' * (level > 1)}",
            lambda r, level=level: f"{r['requests'][level]['rps']:,.0f}")
    for level in levels:
        row(f"not streamed p50 / p99, {level} client{'s' * (level > 1)}",
            lambda r, level=level: f"{r['requests'][level]['p50']:.2f} / "
                                   f"{r['requests'][level]['p99']:.2f} ms")
    for level in levels:
        row(f"TTFT p50, {level} stream{'s' * (level > 1)}",
            lambda r, level=level: f"{r['streams'][level]['ttft_p50']:.2f} ms")
    for level in levels:
        row(f"per-chunk p50, {level} stream{'s' * (level > 1)}",
            lambda r, level=level: f"{r['streams'][level]['chunk_p50']:.2f} ms")
    row("chunks lost / answers other than 200",
        lambda r: f"{sum(s['lost'] for s in r['streams'].values())} / "
                  f"{sum(q['errors'] for q in r['requests'].values())}")
    row("CPU s per 1,000 calls (daphne processes + nginx)", lambda r: f"{r['cpu']:.2f}")
    first = names[0]
    for n in names[1:]:
        ratios = " / ".join(
            f"{results[n]['requests'][lv]['rps'] / results[first]['requests'][lv]['rps']:.2f}×"
            for lv in levels)
        lines.append(f"\n{n} ÷ {first}, not streamed req/s at {', '.join(map(str, levels))}"
                     f" clients: {ratios}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,2", help="configurations to measure")
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--streams", type=int, default=64, help="streams per level")
    add_plain_call_options(parser, requests=400)
    args = parser.parse_args()
    check_plain_call_options(args)

    os.environ.setdefault("DATABASE_URL", DATABASE_URL)
    os.environ.setdefault("REDIS_URL", REDIS_URL)
    create_database(os.environ["DATABASE_URL"])
    # No rate limit: this bench makes more than the default 600 calls a minute.
    env = {"GATEWAY_MAX_REQUESTS_PER_MINUTE": "0", "PLAYGROUND_STATIC_FROM_SOURCE": "1"}
    port = free_port()
    upstream_url = f"http://127.0.0.1:{port}/v1"
    upstream = subprocess.Popen([sys.executable, str(ROOT / "bench" / "versus_bench.py"),
                                 "--serve-upstream", str(port), "--chunks", str(args.chunks),
                                 "--interval", str(args.interval)])
    results = {}
    try:
        wait_for_port(port)
        with tempfile.TemporaryDirectory() as data_dir:
            secret, _, _ = playground(data_dir, upstream_url)
            print(f"{os.cpu_count()} cores; load average at start: "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
            for count in [int(x) for x in args.processes.split(",")]:
                procs = []
                try:
                    ports = []
                    for _ in range(count):  # each kept as it starts: stopped if a later one fails
                        process, url = start_daphne(data_dir, env=env)
                        procs.append(process)
                        ports.append(int(url.rsplit(":", 1)[1]))
                    nginx, url = start_nginx(Path(data_dir) / f"nginx-{count}", ports)
                    procs.append(nginx)
                    time.sleep(0.5)  # nginx's worker is up
                    name = f"{count} process{'es' * (count > 1)}"
                    target = Servers(name, f"{url}/v1/chat/completions",
                                     {"Authorization": f"Bearer {secret}"},
                                     [p.pid for p in procs[:-1]] + nginx_pids(nginx))
                    results[name] = asyncio.run(measure(args, target))
                finally:
                    stop(procs)
            print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        stop([upstream])
    print(f"\nBehind nginx on PostgreSQL + Redis; {args.chunks} chunks every "
          f"{args.interval * 1000:g} ms; {args.streams} streams and "
          f"{plain_calls(args)} per level.\n")
    print(table(results, [int(x) for x in args.levels.split(",")]))


if __name__ == "__main__":
    main()
