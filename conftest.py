"""Fixtures shared by every app's tests.

- `app_url`: the real ASGI app under daphne, in a subprocess, on a free
  loopback port, against the test database (so pages and websockets are served
  exactly as in production); `servers` starts more such processes (crash and
  multi-process tests).
- `page`: a headless Debian Chromium page driven by Playwright.
- named users: `owner`, `teammate`, `outsider`, `staff`.
- `fake_model`: a model served by the test upstream (`upstream`).
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model

# The local OpenAI-protocol test upstream and the embedded model server.
pytest_plugins = ["testing.fixtures"]

ROOT = Path(__file__).resolve().parent
PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
# As the Makefile starts daphne: its websocket ceiling well above
# PLAYGROUND_MAX_MESSAGE_BYTES, so the app answers an oversized message itself.
DAPHNE_OPTIONS = ["--websocket-max-message-size", "16777216",
                  "--websocket-max-frame-size", "16777216"]


def pytest_configure(config):
    from django.conf import settings
    from django.test.utils import override_settings

    # Tests serve static files straight from the source folders: no
    # collectstatic step, no manifest to go stale while developing.
    # override_settings (not plain assignment) so that a storage created
    # before this point is dropped too.
    # The run keeper thread belongs to server processes (the live daphne
    # subprocesses run it); in the test runner it would sweep the test
    # database from a thread behind the tests' backs. (So tests import
    # playground.asgi only after this, inside fixtures.)
    override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        RUN_KEEPER=False,
    ).enable()


def pytest_collection_modifyitems(items):
    from pytest_asyncio.plugin import PytestAsyncioFunction

    # Browser tests last: Playwright's sync API keeps an asyncio loop marked
    # as running in the main thread while it is open, which async tests and
    # Django's async-safety check must not see.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
    for item in items:
        if isinstance(item, PytestAsyncioFunction):
            item.fixturenames.append("_runs_closed")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, and then, on PostgreSQL: the test database is dropped
    at the end only if nobody is connected, and the engine's database
    threads and asgiref's keep their connections (CONN_MAX_AGE) for as long
    as the process lives (the drop failed with a warning, "being accessed by
    other users"). So before the drop, the other client connections of
    this user to the test database end: by then they are this process's
    threads' (the daphne subprocesses are stopped first)."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND usename = current_user"
        )
    connection.close()


@pytest.fixture
async def _runs_closed():
    """Every async test: the runs its event loop still drives are stopped and
    the run hub it opened (runs on the Redis channel layer) is closed before
    the loop ends. The loop's end cancels and awaits every task, and a hub
    listener cancelled inside channels-redis may never finish
    (apps/runs/hub.py, Hub.close)."""
    yield
    from apps.runs import engine

    await engine.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url(settings_dict):
    """The test database, as a DATABASE_URL for the server process."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "")
    password = quote(settings_dict.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{settings_dict['NAME']}"


class Server:
    """A Playground server process: daphne, started the way production
    starts it, on a free loopback port, against the test database.

    A subprocess, not a fork: a forked child would inherit this process's
    threads' state (asgiref's database executor, connection pools, the
    embedded model's server) without the threads themselves.
    """

    def __init__(self, log_path, **env):
        from django.db import connection

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(connection.settings_dict),
            "PLAYGROUND_STATIC_FROM_SOURCE": "1",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                 *DAPHNE_OPTIONS, "playground.asgi:application"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"daphne did not start:\n{self.log()}")
            time.sleep(0.1)

    def log(self):
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self):
        """SIGKILL: the process dies at once, as in a crash or an OOM kill."""
        self.process.kill()
        self.process.wait(10)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def _daphne(django_db_setup, tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("daphne") / "daphne.log")
    yield server.url
    server.stop()


@pytest.fixture
def servers(transactional_db, tmp_path):
    """Start more server processes: servers(**env) -> Server (stopped at the
    end of the test). For crash and multi-process tests."""
    started = []

    def start(**env):
        server = Server(tmp_path / f"daphne-{len(started)}.log", **env)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()


@pytest.fixture
def app_url(_daphne, transactional_db):
    """The URL of a running Playground. Data written by the test is committed,
    so the server process sees it."""
    yield _daphne
    _runs_settled()


def _runs_settled(step=0.05, quiet=3, timeout=3.0):
    """Wait (bounded) until the server has stopped writing Runs: none running
    and the table unchanged for `quiet` looks `step` apart. A plain gateway
    call is answered as soon as its outcome is known and its Run is written
    right behind the answer; the database flush after the test, beside that
    INSERT, can deadlock on PostgreSQL (seen in a full gateway run)."""
    from apps.history.models import Run

    deadline = time.monotonic() + timeout
    seen, same = None, 0
    while time.monotonic() < deadline:
        now = (Run.objects.count(), Run.objects.filter(status=Run.RUNNING).count())
        same = same + 1 if now == seen and not now[1] else 0
        if same >= quiet:
            return
        seen = now
        time.sleep(step)


@pytest.fixture
def fake_model(upstream, db):
    """An enabled model on a provider that points at the test upstream
    (testing/upstream.py), with short timeouts."""
    from apps.providers.models import Model, Provider

    provider = Provider.objects.create(
        name="Test upstream",
        kind="openai",
        base_url=upstream.url,
        api_key="sk-test-secret-key-0123456789",
        connect_timeout=2,
        first_byte_timeout=5,
        between_chunks_timeout=5,
        total_timeout=20,
    )
    return Model.objects.create(provider=provider, upstream_id="echo-1", display_name="Echo")


def make_user(username, **extra):
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)


@pytest.fixture
def owner(db):
    return make_user("owner")


@pytest.fixture
def teammate(db):
    return make_user("teammate")


@pytest.fixture
def outsider(db):
    return make_user("outsider")


@pytest.fixture
def staff(db):
    return make_user("staff", is_staff=True, is_superuser=True)


@pytest.fixture(scope="module")
def _browser(django_db_setup):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed; `make test` installs it")
    from playwright.sync_api import expect, sync_playwright

    # Generous: the embedded model shares two cores with the browser, the
    # server and the test itself.
    expect.set_options(timeout=30_000)
    pw = sync_playwright().start()
    # While Playwright runs, the test's own sync ORM calls (creating users,
    # reading runs) happen beside its loop; they are still plain sync code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Chromium's own phoning home is refused on a closed network.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
    finally:
        pw.stop()
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(_browser, app_url):
    context = _browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def signed_in(page, app_url):
    """Sign a user in through the real login page; returns a function."""

    def sign_in(user):
        page.goto(f"{app_url}/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{app_url}/")
        return page

    return sign_in
