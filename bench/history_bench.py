"""The pages at 10,000 runs: the playground and the history list and search.

Creates one user with N runs (default 10,000; realistic prompt, output,
request and response sizes, a few statuses and models) plus another user's
runs as noise, in a throwaway database, then times requests through
Django's test client (the whole view: middleware, queries, template):

- playground:    GET /                    (the chat playground, signed in)
- list:          GET /history/            (page 1, newest first)
- deep page:     GET /history/?page=150
- filter:        GET /history/?status=failed&mode=chat
- search rare:   GET /history/?q=<a word in 5 outputs>  (scans every row of the user)
- search common: GET /history/?q=<a word in most runs>

p50/p95/p99 over repeated requests, and the query plans. SQLite always (a
temporary file); PostgreSQL too when DATABASE_URL is set (a throwaway
database created next to the one it names, dropped afterwards), once as
migrated (trigram indexes for search) and once without those indexes.

    .venv/bin/python bench/history_bench.py                  # 10,000 runs, 200 requests each
    .venv/bin/python bench/history_bench.py --runs 2000 --repeat 50
    .venv/bin/python bench/history_bench.py --cases playground,list --no-baseline
    DATABASE_URL=postgres://user@host/db .venv/bin/python bench/history_bench.py

Not part of the test suite.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile  # noqa: E402

RARE = "quokka"  # planted in 5 outputs
COMMON = "river"  # in the vocabulary: most runs have it
WORDS = (
    "the a of and to in is it that was for on are with as his they be at one have this from "
    "by hot word but what some we can out other were all there when up use your how said an "
    "each she which do their time if will way about many then them write would like so these "
    "her long make thing see him two has look more day could go come did number sound no most "
    "people my over know water than call first who may down side been now find river model "
    "token stream prompt answer question story cloud mountain city light garden paper"
).split()


def text(rng, words):
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def populate(n, others, seed=1):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from apps.history.models import Conversation, Run
    from apps.providers.models import Model, Provider

    rng = random.Random(seed)
    # Models the playground lists (a provider's usual handful), one the default.
    provider = Provider.objects.create(name="Bench", kind="openai",
                                       base_url="http://127.0.0.1:9/v1", api_key="sk-bench-0000")
    for position, name in enumerate(["Echo", "gpt-4o-mini", "llama-3.1-8b", "qwen-2.5-7b"]):
        Model.objects.create(provider=provider, upstream_id=name.lower(), display_name=name,
                             position=position, is_default=position == 0)
    User = get_user_model()
    user = User.objects.create_user("bench", password="x")
    other = User.objects.create_user("other", password="x")
    statuses = [Run.COMPLETED] * 85 + [Run.FAILED] * 5 + [Run.CANCELLED] * 5 + [Run.INTERRUPTED] * 5
    models = ["Echo", "SmolLM2-135M-Instruct", "gpt-4o-mini", "llama-3.1-8b"]
    now = timezone.now()
    conversations = Conversation.objects.bulk_create(
        Conversation(owner=user, mode="chat", title=f"Conversation {i}") for i in range(n // 10)
    )
    rare = set(rng.sample(range(n), 5))

    def make(owner, i, conversation):
        endpoint = "chat" if i % 3 else "completions"
        prompt = text(rng, 40)
        output = text(rng, 150)
        if owner == user and i in rare:
            output += f" A {RARE} appeared."
        if endpoint == "chat":
            request = {"model": "echo-1", "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": prompt}], "temperature": 0.7, "stream": True,
                "stream_options": {"include_usage": True}}
            response = {"id": f"chatcmpl-{i}", "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": output},
                 "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 60, "completion_tokens": 200, "total_tokens": 260}}
        else:
            request = {"model": "echo-1", "prompt": prompt, "max_tokens": 200, "stream": True}
            response = {"id": f"cmpl-{i}", "object": "text_completion", "choices": [
                {"index": 0, "text": output, "finish_reason": "length"}]}
        return Run(
            owner=owner, conversation=conversation if endpoint == "chat" else None,
            endpoint=endpoint, model_name=rng.choice(models), provider_name="Bench",
            request=request, response=response, prompt_text=prompt, output_text=output,
            status=rng.choice(statuses), prompt_tokens=60, completion_tokens=200,
            ttft_ms=rng.uniform(50, 400), duration_ms=rng.uniform(500, 5000),
            tokens_per_s=rng.uniform(20, 90),
            created=now - timezone.timedelta(seconds=(n - i) * 37), finished=now,
        )

    batch = []
    for i in range(n):
        conversation = conversations[i % len(conversations)] if conversations else None
        batch.append(make(user, i, conversation))
        if len(batch) == 1000:
            Run.objects.bulk_create(batch)
            batch = []
    for i in range(others):
        batch.append(make(other, i, None))
        if len(batch) == 1000:
            Run.objects.bulk_create(batch)
            batch = []
    Run.objects.bulk_create(batch)
    return user


def plans(user):
    from apps.history.views import filtered_runs

    return {
        "list": filtered_runs(user)[:50].explain(),
        "list count": filtered_runs(user).order_by().values("pk").explain(),
        "search": filtered_runs(user, q=RARE)[:51].explain(),
    }


def server_version(connection):
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    with connection.cursor() as c:
        c.execute("SHOW server_version")
        return f"PostgreSQL {c.fetchone()[0]}"


def worker(args):
    """One backend, in its own process (Django's settings are per process)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    django.setup()
    from django.core.management import call_command
    from django.core.signals import request_started
    from django.db import connection, reset_queries
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    # Not setup_test_environment(): its per-template instrumentation is not
    # part of a server's time (it added ~2 ms to the playground page).
    # Count every query of a request: Django clears the log when one starts.
    request_started.disconnect(reset_queries)
    call_command("migrate", verbosity=0)
    t = time.perf_counter()
    user = populate(args.runs, args.others)
    created_s = time.perf_counter() - t
    with connection.cursor() as c:
        if args.unindexed and connection.vendor == "postgresql":
            # The baseline: history's migration 0002 adds trigram indexes for search.
            for column in ("prompt_text", "output_text"):
                c.execute(f"DROP INDEX IF EXISTS history_run_{column}_trgm")
        c.execute("ANALYZE")  # fresh statistics, as a live database would have

    client = Client()
    client.force_login(user)
    cases = [
        ("playground /", "/", None),
        ("list", "/history/", None),
        ("deep page", "/history/?page=150", None),
        ("filter status+mode", "/history/?status=failed&mode=chat", None),
        (f"search rare ({RARE!r}, 5 hits)", f"/history/?q={RARE}", RARE),
        (f"search common ({COMMON!r})", f"/history/?q={COMMON}", COMMON),
    ]
    if args.cases:
        wanted = args.cases.split(",")
        cases = [c for c in cases if c[0].split()[0] in wanted]
    results = []
    # Plain static storage: the bench must not depend on collectstatic.
    with override_settings(ALLOWED_HOSTS=["testserver"], STORAGES={
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }):
        for name, url, word in cases:
            for _ in range(5):  # warm-up
                client.get(url)
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            query_count = len(queries.captured_queries)
            assert response.status_code == 200, (url, response.status_code)
            if word:
                assert word in response.content.decode(), url
            times, cpu = [], []
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                client.get(url)
                times.append((time.perf_counter() - t) * 1000)
                # The process's CPU time: what a busy shared machine inflates least.
                cpu.append((time.process_time() - c) * 1000)
            results.append({
                "case": name, "url": url, "p50": percentile(times, 50),
                "p95": percentile(times, 95),
                "p99": percentile(times, 99), "cpu p50": percentile(cpu, 50),
                "queries": query_count,
            })
    vendor = connection.vendor + (" without trigram indexes" if args.unindexed else "")
    print(json.dumps({"vendor": vendor, "version": server_version(connection),
                      "created_s": created_s, "results": results, "plans": plans(user)}))


def run_backend(args, env, unindexed=False):
    command = [sys.executable, __file__, "--worker", "--runs", str(args.runs), "--others",
               str(args.others), "--repeat", str(args.repeat), "--cases", args.cases]
    if unindexed:
        command.append("--unindexed")
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def postgres_env(base_env, url):
    """A throwaway database next to the one DATABASE_URL names."""
    import psycopg

    name = f"playground_history_bench_{os.getpid()}"
    parts = url.rsplit("/", 1)
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()

    def drop():
        admin = psycopg.connect(url, autocommit=True)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()

    return {**base_env, "DATABASE_URL": f"{parts[0]}/{name}"}, drop


def report(all_results, args):
    lines = [
        "## History",
        "",
        "`bench/history_bench.py`: the history list and search through Django's test client",
        f"(the whole view), one user with {args.runs:,} runs plus {args.others:,} of another",
        f"user's; {args.repeat} requests per case after 5 warm-up requests. Page size 50.",
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        + ", ".join(dict.fromkeys(r["version"] for r in all_results)) + ".",
        "",
        "| backend | case | p50 ms | p95 ms | p99 ms | CPU p50 ms | queries |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in all_results:
        for c in r["results"]:
            lines.append(f"| {r['vendor']} | {c['case']} | {c['p50']:.1f} | {c['p95']:.1f} | "
                         f"{c['p99']:.1f} | {c['cpu p50']:.1f} | "
                         f"{c['queries']} |")
    lines.append("")
    for r in all_results:
        lines.append(f"Query plans ({r['vendor']}):")
        lines.append("")
        lines.append("```")
        for name in ("list", "list count", "search"):
            lines.append(f"-- {name}")
            lines.append(r["plans"][name])
        lines.append("```")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--cases", default="",
                        help="comma-separated first words of the cases to run "
                             "(playground, list, deep, filter, search); all by default")
    parser.add_argument("--no-baseline", action="store_true",
                        help="PostgreSQL: skip the extra run without the trigram indexes")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--unindexed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    results = []
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "PLAYGROUND_DATA_DIR": data_dir, "PLAYGROUND_LOCAL_MODEL": "0"}
        env.pop("DATABASE_URL", None)
        results.append(run_backend(args, env))
        url = os.environ.get("DATABASE_URL")
        if url:
            for unindexed in (False, True)[: 1 if args.no_baseline else 2]:
                pg_env, drop = postgres_env(env, url)
                try:
                    results.append(run_backend(args, pg_env, unindexed=unindexed))
                finally:
                    drop()
    print(report(results, args))


if __name__ == "__main__":
    main()
