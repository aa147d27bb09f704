"""Pytest fixtures for talking to real upstreams (registered in the root conftest).

- `upstream`: the scripted OpenAI-protocol test server (see upstream.py for
  everything `behave()` accepts). One server per session, reset for each test.
- `upstream_target`: a Target pointing at it, with tiny timeouts.
- `embedded_model`: the real embedded llama.cpp server, started once per
  session; yields its Target.
"""

import pytest

from apps.inference.target import Target, Timeouts
from testing.upstream import FakeUpstream


@pytest.fixture(scope="session")
def _fake_upstream_server():
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(_fake_upstream_server):
    """The test upstream, freshly reset: well-behaved, no key required."""
    _fake_upstream_server.reset()
    yield _fake_upstream_server
    _fake_upstream_server.reset()


@pytest.fixture
def upstream_target(upstream):
    """An OpenAI-kind Target for the test upstream. Timeouts are short so a
    test that goes wrong fails fast instead of hanging."""
    return Target(
        kind="openai",
        base_url=upstream.url,
        model="echo-1",
        timeouts=Timeouts(connect=2, first_byte=5, between_chunks=5, total=20),
    )


@pytest.fixture(scope="session")
def embedded_model():
    """The embedded SmolLM2 model, served by llama.cpp on loopback (started
    once per test session, < 1 s); yields the Target the adapter uses."""
    from apps.inference import local

    local.local_base_url()
    return local.local_target()


async def collect(target, endpoint, body):
    """Every event of one stream() run, as a list."""
    from apps.inference import stream

    return [event async for event in stream(target, endpoint, body)]


def text_of(events, index=0):
    """The text a choice streamed."""
    from apps.inference.events import Delta

    return "".join(e.text for e in events if isinstance(e, Delta) and e.index == index)
