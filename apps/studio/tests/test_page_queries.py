"""The playground page's queries: a fixed number whatever the user's history
and the model list hold (speed figures are in bench/README.md, not here)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.history.models import Conversation, Run
from apps.providers.models import Model, Provider

pytestmark = pytest.mark.django_db


def add_models(n):
    provider = Provider.objects.create(name=f"P{n}", kind="openai",
                                       base_url="http://127.0.0.1:9/v1", api_key="sk-0123456789")
    for i in range(n):
        Model.objects.create(provider=provider, upstream_id=f"m{i}", display_name=f"Model {n}-{i}")


def add_runs(user, n, conversation=None):
    Run.objects.bulk_create(
        Run(owner=user, endpoint="chat", model_name="Model 0", request={}, prompt_text="p",
            output_text="o", status=Run.COMPLETED, conversation=conversation)
        for _ in range(n)
    )


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("url", ["/", "/completions/"])
def test_it_asks_the_database_the_same_number_of_times_for_more_runs_and_models(
    client, owner, url
):
    add_models(2)
    add_runs(owner, 5)
    client.force_login(owner)
    client.get(url)
    few = queries(client, url)
    add_models(10)
    add_runs(owner, 200)
    assert queries(client, url) == few


def test_it_asks_the_same_number_of_times_for_a_longer_conversation(client, owner):
    add_models(2)
    conversation = Conversation.objects.create(owner=owner, mode="chat", title="Talk")
    add_runs(owner, 2, conversation)
    client.force_login(owner)
    url = f"/c/{conversation.uuid}/"
    client.get(url)
    few = queries(client, url)
    add_models(10)
    add_runs(owner, 100, conversation)
    assert queries(client, url) == few


def test_it_shows_the_same_controls_when_served_from_the_cache(client, owner):
    """The parameter controls are cached rendered per mode and values: a
    conversation's values are not shown on a new page, nor the reverse."""
    add_models(1)
    conversation = Conversation.objects.create(
        owner=owner, mode="chat", title="Talk",
        form={"model": "", "body": {"temperature": 0.25, "stream": False}},
    )
    client.force_login(owner)
    for _ in range(2):
        new = client.get("/").content.decode()
        old = client.get(f"/c/{conversation.uuid}/").content.decode()
        assert 'value="0.25"' in old and 'value="0.25"' not in new
