"""The history list's queries: a fixed number whatever the user's history
holds (speed figures are in bench/README.md, not here)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.history.models import Conversation, Run
from apps.providers.models import Model, Provider

pytestmark = pytest.mark.django_db


def add_runs(user, n, start=0):
    conversation = Conversation.objects.create(owner=user, mode="chat", title="Talk")
    Run.objects.bulk_create(
        Run(owner=user, endpoint="chat" if i % 2 else "completions", model_name=f"m{i % 7}",
            request={}, prompt_text=f"prompt {i} é" if i % 3 else f"prompt {i}",
            output_text="x" * (i % 120), status=Run.COMPLETED,
            source="gateway" if i % 5 == 0 else "playground",
            conversation=conversation if i % 2 else None)
        for i in range(start, start + n)
    )


def add_models(n):
    provider = Provider.objects.create(name=f"P{n}", kind="openai",
                                       base_url="http://127.0.0.1:9/v1", api_key="sk-0123456789")
    for i in range(n):
        Model.objects.create(provider=provider, upstream_id=f"m{i}", display_name=f"Model {n}-{i}")


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("url", ["/history/", "/history/?page=2", "/history/?q=prompt",
                                 "/history/?status=completed&mode=chat&source=gateway"])
def test_it_asks_the_database_the_same_number_of_times_for_more_runs(client, owner, url):
    add_runs(owner, 60)
    add_models(2)
    client.force_login(owner)
    client.get(url)  # the session's first-request work, once
    few = queries(client, url)
    add_runs(owner, 240, start=60)
    add_models(8)
    assert queries(client, url) == few


def test_it_shows_the_rows_as_before(client, owner):
    """The rows' links, snippets, labels and dates (computed in the view)."""
    add_runs(owner, 3)
    run = Run.objects.filter(owner=owner, conversation__isnull=False).get()
    run.prompt_text = "é" * 90
    run.output_text = "a" * 81
    run.gateway_key_prefix = "pg-abc"
    run.source = "gateway"
    run.save()
    client.force_login(owner)
    html = client.get("/history/").content.decode()
    assert f'<a href="/history/runs/{run.uuid}/">{run.created:%Y-%m-%d %H:%M:%S}</a>' in html
    assert f'<td class="snippet">{"é" * 79}…</td>' in html
    assert f'<td class="snippet">{"a" * 79}…</td>' in html
    assert "Gateway <code" in html and ">Completed<" in html
    assert f'<a href="/c/{run.conversation.uuid}/">Open</a>' in html
