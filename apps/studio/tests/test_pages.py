"""The playground pages, rendered by the server."""

import re

import pytest

from apps.catalog import fields_for
from apps.history.models import Conversation, Run

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("mode,url", [("chat", "/"), ("completions", "/completions/")])
def test_it_has_a_control_for_every_documented_field(client, owner, mode, url):
    client.force_login(owner)
    html = client.get(url).content.decode()
    controls = set(re.findall(r'data-field="([a-z_]+)"', html))
    # The model has its picker; every other field has a control of its own.
    expected = {f.name for f in fields_for(mode)} - {"model"}
    assert expected <= controls, expected - controls
    assert 'name="model"' in html


def test_it_shows_the_documented_range_and_help(client, owner):
    client.force_login(owner)
    html = client.get("/completions/").content.decode()
    assert "between 0 and 2" in html  # temperature
    assert "between 0 and 5" in html  # completions logprobs


def test_it_offers_only_models_that_serve_the_mode(client, owner, fake_model):
    fake_model.serves_chat = False
    fake_model.save()
    client.force_login(owner)
    assert "Echo" not in client.get("/").content.decode()
    assert "Echo" in client.get("/completions/").content.decode()


def test_it_reopens_a_conversation_with_its_parameters_and_output(client, owner, fake_model):
    conv = Conversation.objects.create(
        owner=owner,
        mode="completions",
        title="t",
        form={"model": str(fake_model.uuid), "body": {"prompt": "Once upon", "temperature": 0.3}},
    )
    Run.objects.create(
        owner=owner,
        conversation=conv,
        endpoint="completions",
        model=fake_model,
        model_name="Echo",
        request={"model": "echo-1", "prompt": "Once upon"},
        response={
            "choices": [{"index": 0, "text": "a time <script>x</script>", "finish_reason": "stop"}]
        },
        output_text="a time",
        status=Run.COMPLETED,
    )
    client.force_login(owner)
    html = client.get(f"/c/{conv.uuid}/").content.decode()
    assert ">Once upon</textarea>" in html
    assert 'value="0.3"' in html
    assert "a time &lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x</script>" not in html


def test_it_hides_someone_elses_conversation(client, owner, outsider):
    conv = Conversation.objects.create(owner=owner, mode="chat")
    client.force_login(outsider)
    assert client.get(f"/c/{conv.uuid}/").status_code == 404


def test_it_requires_login(client, db):
    for url in ["/", "/completions/", "/history/"]:
        assert client.get(url).status_code == 302


def test_it_says_when_a_conversations_model_is_gone(client, owner, fake_model):
    conv = Conversation.objects.create(
        owner=owner, mode="completions", form={"model": str(fake_model.uuid), "body": {}}
    )
    fake_model.enabled = False
    fake_model.save()
    client.force_login(owner)
    html = client.get(f"/c/{conv.uuid}/").content.decode()
    assert "no longer available for completions" in html
    assert '<option value="" selected>Choose a model</option>' in html


def test_its_scripts_take_historys_urls_from_the_page(client, owner, fake_model):
    # Where history is mounted is the URLconf's business: the scripts get
    # its URLs from data- attributes ({% url %}), never as literals.
    from pathlib import Path

    from django.conf import settings
    from django.urls import reverse

    client.force_login(owner)
    zero = "00000000-0000-0000-0000-000000000000"
    page = client.get("/").content.decode()
    assert f'data-tokens-url="{reverse("history:tokens", args=[zero])}"' in page
    run = Run.objects.create(owner=owner, endpoint="completions", model_name="Echo",
                             status=Run.COMPLETED, request={"model": "echo-1", "prompt": "p"},
                             response={"choices": [{"index": 0, "text": "x"}]})
    detail = client.get(reverse("history:run", args=[run.uuid])).content.decode()
    assert f'data-run-url="{reverse("history:run", args=[zero])}"' in detail
    for name in ("playground.js", "replay.js", "candidates.js"):
        script = (Path(settings.BASE_DIR) / "static" / "js" / name).read_text()
        assert "/history/" not in script, name
