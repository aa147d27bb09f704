"""What the benchmarks share: percentiles, and a Playground to measure (a
throwaway database with a user and a model on a given upstream, and one
daphne process serving it)."""

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(values, p):
    """The p-th percentile (nearest rank); NaN for no values."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_playground(data_dir, upstream_url):
    """Migrate a throwaway database in `data_dir` (this process then uses it)
    and add a user and an enabled model on `upstream_url`: (user, model)."""
    os.environ["PLAYGROUND_DATA_DIR"] = data_dir
    os.environ["PLAYGROUND_LOCAL_MODEL"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from apps.providers.models import Model, Provider

    call_command("migrate", verbosity=0)
    # A kept database (PostgreSQL for two processes) may hold the user of
    # an earlier run already.
    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        user = get_user_model().objects.create_user("bench", password="bench-password-1")
    provider, _ = Provider.objects.update_or_create(
        name="bench upstream", defaults={"kind": "openai", "base_url": upstream_url}
    )
    model, _ = Model.objects.get_or_create(
        provider=provider, upstream_id="bench", defaults={"display_name": "bench"}
    )
    return user, model


def start_daphne(data_dir, timeout=30, env=None):
    """One daphne process serving Playground on `data_dir`'s database:
    (process, base URL), once it accepts connections. `env` adds to (or
    overrides) this process's environment, e.g. a checkpoint interval."""
    port = free_port()
    env = {**os.environ, "PLAYGROUND_DATA_DIR": data_dir, "LOG_LEVEL": "WARNING", **(env or {})}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
         "--verbosity", "0", "playground.asgi:application"],
        cwd=ROOT, env=env,
    )
    wait_for_port(port, timeout)
    return process, f"http://127.0.0.1:{port}"


def cpu_seconds(pid):
    """User + system CPU seconds a process (all its threads) has used so far,
    from /proc/<pid>/stat (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may hold spaces: split after its ")".
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the line, 12 and 13 after ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def stop(processes, timeout=10):
    """Terminate server processes (newest first) and wait for each; one that
    does not stop in `timeout` seconds is killed."""
    for process in reversed(processes):
        process.terminate()
    for process in reversed(processes):
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# wrk's script: every call the same POST.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
%(headers)s
"""
WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def wrk_available():
    return shutil.which("wrk") is not None


async def wrk_calls(url, headers, body, level, seconds):
    """Not-streamed POSTs of `body` over `level` keep-alive connections for
    `seconds`, made by wrk (Debian's `wrk`, C): a load generator that costs
    the shared cores a small fraction of what an httpx client does per call
    (measured: ~0.03 against ~2.7 ms of CPU), so the servers, not the
    client, set the pace. Calls still in flight at the end are dropped, not
    counted. {rps, p50, p99 (ms), errors (answers other than 2xx/3xx and
    socket errors), calls (answers read)}."""
    lines = [f'wrk.headers["{k}"] = "{v}"' for k, v in
             {"Content-Type": "application/json", **headers}.items()]
    script = WRK_SCRIPT % {"body": json.dumps(body), "headers": "\n".join(lines)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as f:
        f.write(script)
        f.flush()
        process = await asyncio.create_subprocess_exec(
            "wrk", "-t1", f"-c{level}", f"-d{int(seconds)}s", "--timeout", "30s", "--latency",
            "-s", f.name, url, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = (await process.communicate())[0].decode()
    if process.returncode != 0 or "requests in" not in out:
        raise RuntimeError(f"wrk failed:\n{out}")

    def latency(p):
        found = re.search(rf"^\s+{p}%\s+([\d.]+)([a-z]+)\s*$", out, re.M)
        if found is None:
            raise RuntimeError(f"wrk printed no {p}% latency:\n{out}")
        value, unit = found.groups()
        return float(value) * WRK_UNITS[unit]

    calls = int(re.search(r"(\d+) requests in", out).group(1))
    errors = int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        errors += sum(map(int, re.findall(r"\d+", socket_errors.group(1))))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": latency(50), "p99": latency(99), "errors": errors, "calls": calls}
