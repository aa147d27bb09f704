"""A client that goes away cancels the upstream request (Django cancels an
async view, streaming or not, on http.disconnect), and its Run is kept as
interrupted with the text that arrived."""

import json
import time

import httpx
import pytest

from apps.history.models import Run

from .conftest import only_run


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_a_client_that_leaves_mid_stream_cancels_the_upstream(app_url, secret, fake_model,
                                                              upstream, endpoint):
    upstream.behave(text="one two three four five six seven", interval=0.3)
    if endpoint == "chat":
        path, body = "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}
    else:
        path, body = "/v1/completions", {"prompt": "x"}
    with httpx.stream(
        "POST",
        f"{app_url}{path}",
        json={"model": "Echo", "stream": True, **body},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    ) as response:
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert "one" in json.loads(first[len("data: "):])["choices"][0].get("text", "one")
    # Leaving the block closed the connection mid-body.
    left = time.monotonic()
    assert upstream.wait_disconnect(1.0)
    assert time.monotonic() - left < 1.0

    run = only_run()
    assert run.status == Run.INTERRUPTED
    assert run.output_text.startswith("one")
    assert "seven" not in run.output_text
    assert run.finished is not None


def test_a_client_that_gives_up_waiting_cancels_a_non_streamed_call(app_url, secret, fake_model,
                                                                    upstream):
    upstream.behave(latency=5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{app_url}/v1/completions",
            json={"model": "Echo", "prompt": "x"},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=httpx.Timeout(5, read=0.5),
        )
    assert upstream.wait_disconnect(1.0)
    run = only_run()
    assert run.status == Run.INTERRUPTED
    assert run.output_text == ""


def test_a_client_that_leaves_before_the_first_token_cancels_the_upstream(app_url, secret,
                                                                          fake_model, upstream):
    # Streamed, but the response has not started: the view is still waiting.
    upstream.behave(latency=1.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{app_url}/v1/chat/completions",
            json={"model": "Echo", "messages": [{"role": "user", "content": "x"}],
                  "stream": True},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=httpx.Timeout(5, read=0.3),
        )
    assert upstream.wait_disconnect(1.0)
    assert only_run().status == Run.INTERRUPTED
