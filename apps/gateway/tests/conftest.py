import time

import pytest
from openai import OpenAI

from apps.gateway.models import GatewayKey
from apps.history.models import Run
from apps.providers.models import Model, Provider

# Its tail is not hex, so it cannot turn up by chance in a uuid or a timestamp.
PROVIDER_KEY = "sk-test-provider-secret-qzxw"


@pytest.fixture
def fake_model(upstream, transactional_db):
    """An enabled model on a provider that points at the test upstream, with
    short timeouts so a fault test fails in seconds."""
    provider = Provider.objects.create(
        name="Test upstream",
        kind="openai",
        base_url=upstream.url,
        api_key=PROVIDER_KEY,
        connect_timeout=2,
        first_byte_timeout=2,
        between_chunks_timeout=2,
        total_timeout=10,
    )
    upstream.require_key(PROVIDER_KEY)
    return Model.objects.create(provider=provider, upstream_id="echo-1", display_name="Echo")


@pytest.fixture
def key(owner):
    """(GatewayKey, secret) of the owner."""
    return GatewayKey.create(owner, "tests")


@pytest.fixture
def secret(key):
    return key[1]


def gateway_client(app_url, secret):
    """The official openai SDK pointed at the live gateway: no retries, so an
    error surfaces as is, and a short timeout, so a hang fails the test."""
    return OpenAI(base_url=f"{app_url}/v1", api_key=secret, max_retries=0, timeout=15)


@pytest.fixture
def sdk(app_url, secret):
    return gateway_client(app_url, secret)


def stored_runs(count, timeout=5.0):
    """The Runs (newest first) once `count` of them are stored as finished,
    or what is stored after `timeout` seconds. A plain call is answered as
    soon as its outcome is known, and its Run's (final) write goes out right
    behind the answer (engine.start_until_over): it may land a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        runs = list(Run.objects.all())
        finished = sum(run.status != Run.RUNNING for run in runs)
        if finished >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.01)


def only_run():
    (run,) = stored_runs(1)
    return run


@pytest.fixture
def second_app_url(app_url, servers):
    """A second server process beside `app_url`'s, on the same database and
    Redis: the production shape's several processes."""
    return servers().url
