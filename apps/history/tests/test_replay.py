"""A run's page carries what "Re-run and compare" sends: the same request,
in the catalogue's words, for the same model."""

import json
import re

import pytest

from apps.history.models import Run
from apps.providers.models import Model, Provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def echo(db):
    provider = Provider.objects.create(
        name="Test upstream", kind="openai", base_url="http://127.0.0.1:9/v1",
        api_key="sk-secret-0123456789",
    )
    return Model.objects.create(provider=provider, upstream_id="echo-1", display_name="Echo")


def replay_request(html):
    found = re.search(r'<script id="replay-request" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


def test_it_puts_the_same_request_on_the_runs_page(client, owner, echo):
    run = Run.objects.create(
        owner=owner, endpoint="completions", model=echo, model_name="Echo", status=Run.COMPLETED,
        request={"model": "echo-1", "prompt": "Once", "repeat_penalty": 1.3, "stream": True,
                 "n": 2},
        response={"choices": [{"index": 0, "text": "a"}, {"index": 1, "text": "b"}]},
    )
    client.force_login(owner)
    html = client.get(f"/history/runs/{run.uuid}/").content.decode()
    assert replay_request(html) == {
        "mode": "completions",
        "model": str(echo.uuid),
        "body": {"prompt": "Once", "repetition_penalty": 1.3, "stream": True, "n": 2},
    }
    # Each of the original's choices is diffed against the re-run's.
    assert 'data-choices="0,1"' in html
    assert 'id="replay-button"' in html
    # The key never reaches the page.
    assert "sk-secret" not in html


def test_it_gives_a_runs_logprobs_and_form_to_its_owner_only(client, owner, outsider, echo):
    logprobs = {"tokens": [" Paris"], "token_logprobs": [-0.1], "top_logprobs": [{" Paris": -0.1}]}
    run = Run.objects.create(
        owner=owner, endpoint="completions", model=echo, model_name="Echo", status=Run.COMPLETED,
        request={"model": "echo-1", "prompt": "Capital:", "logprobs": 1, "stream": True},
        response={"choices": [{"index": 0, "text": " Paris", "finish_reason": "length",
                               "logprobs": logprobs}]},
    )
    client.force_login(owner)
    data = client.get(f"/history/runs/{run.uuid}/tokens/").json()
    assert data == {
        "mode": "completions",
        "model": str(echo.uuid),
        "body": {"prompt": "Capital:", "logprobs": 1, "stream": True},
        "choices": [{"index": 0, "finish_reason": "length", "logprobs": logprobs}],
    }
    client.force_login(outsider)
    assert client.get(f"/history/runs/{run.uuid}/tokens/").status_code == 404
