"""Page weight: the playground page's HTML + CSS + JS, gzipped, in bytes.

For each playground page (chat and completions) it renders the page as a
signed-in user (Django's test client on a throwaway SQLite database, the
embedded model registered as the default model), then reads every stylesheet
and script the HTML names from the static folders, and gzips each response
on its own (level 6, what nginx and most servers use), as a browser would
download them on a first visit. The budget is 100 KB (100,000 bytes) a page.

    .venv/bin/python bench/page_weight.py              # this checkout
    .venv/bin/python bench/page_weight.py --rev main   # a commit, e.g. before a change
    .venv/bin/python bench/page_weight.py --rev main --rev HEAD --json

--rev exports that commit with `git archive` into a temporary folder and
measures it there with this script (the older tree need not contain it).
Not part of the test suite.
"""

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 100_000
PAGES = {"chat": "/", "completions": "/completions/"}
ASSET = re.compile(r"""<(?:script[^>]*\ssrc|link[^>]*\shref)="(/static/[^"]+)\"""")


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


def measure_here():
    """Measure the checkout this process runs in (its cwd is the checkout)."""
    data = tempfile.mkdtemp(prefix="page-weight-")
    os.environ["PLAYGROUND_DATA_DIR"] = data
    os.environ["DATABASE_URL"] = f"sqlite:///{data}/db.sqlite3"
    os.environ.pop("REDIS_URL", None)
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["DJANGO_SETTINGS_MODULE"] = "playground.settings"
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.staticfiles import finders
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0, interactive=False)
    from apps.providers.models import ensure_local_provider

    ensure_local_provider()
    user = get_user_model().objects.create_user("weigher", password="x")
    client = Client()
    client.force_login(user)
    results = {}
    # Static files by their source names (no manifest to build).
    with override_settings(STORAGES={
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }):
        for name, url in PAGES.items():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            html = response.content
            files = {"html": (url, len(html), gz(html))}
            for path in ASSET.findall(html.decode()):
                found = finders.find(path.removeprefix("/static/"))
                content = Path(found).read_bytes()
                files[path.removeprefix("/static/")] = (path, len(content), gz(content))
            results[name] = {
                "files": {k: {"raw": raw, "gzip": zipped} for k, (_, raw, zipped) in files.items()},
                "raw": sum(raw for _, raw, _ in files.values()),
                "gzip": sum(zipped for _, _, zipped in files.values()),
            }
    return results


def measure_rev(rev):
    """Measure a commit: export it, run this script inside the export."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="page-weight-rev-") as tree:
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--here"],
                              cwd=tree, capture_output=True, text=True)
    if done.returncode != 0:
        # A tree whose page does not render (say, a template error) has no weight.
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"{rev} ({sha}): the page did not render: {last}", {}
    return f"{rev} ({sha})", json.loads(done.stdout.strip().splitlines()[-1])


def report(label, results):
    print(f"\n{label}")
    for page, r in results.items():
        verdict = "under" if r["gzip"] < BUDGET else "OVER"
        print(f"  {page:12} {r['gzip']:>7,} B gzip ({r['raw']:>7,} B raw) — {verdict} the "
              f"{BUDGET // 1000} KB budget")
        for name, f in r["files"].items():
            print(f"    {name:40} {f['gzip']:>7,} B gzip  {f['raw']:>7,} B raw")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rev", action="append", help="measure this commit (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.here:
        print(json.dumps(measure_here()))
        return
    runs = [measure_rev(rev) for rev in args.rev] if args.rev else [
        ("this checkout", json.loads(subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--here"], cwd=ROOT, check=True,
            capture_output=True, text=True).stdout.strip().splitlines()[-1]))
    ]
    if args.json:
        print(json.dumps(dict(runs), indent=2))
        return
    for label, results in runs:
        report(label, results)
    over = [page for _, results in runs[-1:] for page, r in results.items() if r["gzip"] >= BUDGET]
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
