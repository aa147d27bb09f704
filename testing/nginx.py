"""nginx from Debian in front of Playground processes, configured by the
repository's deploy/nginx.conf with only its ports replaced: the
production-shape tests (apps/runs/tests/test_behind_nginx.py) and
bench/processes_bench.py start it the same way."""

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def binary():
    """nginx's path, or None when it is not installed."""
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if os.path.exists(found) else None


def start(workdir, backend_ports, port, **popen):
    """nginx on `port` balancing over `backend_ports`, its files in
    `workdir` (created); returns the process (not yet accepting, maybe)."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    lines = "".join(f"        server 127.0.0.1:{p};\n" for p in backend_ports)
    conf = re.sub(r"(        server 127\.0\.0\.1:\d+;\n)+", lines, conf)
    conf = conf.replace("listen 127.0.0.1:8000;", f"listen 127.0.0.1:{port};")
    workdir = Path(workdir)
    (workdir / "tmp").mkdir(parents=True)
    (workdir / "nginx.conf").write_text(conf)
    return subprocess.Popen(
        [binary(), "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
        **popen,
    )
