"""Saved tool results ("mocks") for the playground's tool-call loop: kept per
tool beside the preset's body (never in what is sent upstream), carried by
new versions, edits, forks, export and import, and handed to the page that
opens the preset."""

import io
import json

import pytest

from apps.presets.models import Preset

pytestmark = pytest.mark.django_db

BODY = {
    "messages": [{"role": "user", "content": "Weather?"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
}
MOCKS = {"get_weather": {"result": {"temperature": 21, "sky": ["sun"]}, "auto": True}}


def save(client, fake_model, url="/presets/new/", **extra):
    """The Save preset dialog as htmx posts it (presets.js adds the page's mocks)."""
    payload = {"name": "Weather", "description": "", "mode": "chat",
               "model": str(fake_model.uuid), "body": json.dumps(BODY)}
    if "tool_mocks" in extra:
        payload["tool_mocks"] = json.dumps(extra["tool_mocks"])
    return client.post(url, payload, HTTP_HX_REQUEST="true")


def test_it_saves_mocks_beside_the_body(client, owner, fake_model):
    client.force_login(owner)
    assert save(client, fake_model, tool_mocks=MOCKS).status_code == 200
    version = Preset.objects.get().latest
    assert version.tool_mocks == MOCKS
    assert version.body == BODY
    assert "tool_mocks" not in version.request_body()


def test_it_saves_a_preset_without_mocks(client, owner, fake_model):
    client.force_login(owner)
    assert save(client, fake_model).status_code == 200
    assert Preset.objects.get().latest.tool_mocks == {}


@pytest.mark.parametrize("mocks, field, message", [
    ([1], "tool_mocks", "tool_mocks must be an object"),
    ({"get_weather": 21}, "tool_mocks.get_weather",
     "tool_mocks.get_weather must be an object with a result"),
    ({"get_weather": {"result": 1, "auto": "yes"}}, "tool_mocks.get_weather",
     "tool_mocks.get_weather.auto must be true or false"),
    ({"x" * 65: {"result": 1}}, "tool_mocks", "a tool name must be 1 to 64 characters"),
])
def test_it_refuses_malformed_mocks_naming_the_field(client, owner, fake_model, mocks, field,
                                                     message):
    client.force_login(owner)
    response = save(client, fake_model, tool_mocks=mocks)
    assert response.status_code == 400
    errors = response.content.decode()
    errors = errors[errors.index('class="preset-errors'):]
    assert message in errors and field in errors
    assert not Preset.objects.exists()


def test_it_keeps_mocks_through_versions_edits_and_forks(client, owner, teammate, fake_model):
    client.force_login(owner)
    save(client, fake_model, tool_mocks=MOCKS)
    preset = Preset.objects.get()
    changed = {"get_weather": {"result": "rain", "auto": False}}
    assert save(client, fake_model, url=f"/presets/{preset.uuid}/save/",
                tool_mocks=changed).status_code == 200
    assert preset.version(1).tool_mocks == MOCKS
    assert preset.latest.tool_mocks == changed
    client.post(f"/presets/{preset.uuid}/edit/", {"name": "Renamed", "description": ""})
    assert preset.latest.number == 3 and preset.latest.tool_mocks == changed
    assert preset.fork(teammate).latest.tool_mocks == changed


def test_it_hands_the_mocks_to_the_page_that_opens_the_preset(client, owner, fake_model):
    client.force_login(owner)
    save(client, fake_model, tool_mocks=MOCKS)
    preset = Preset.objects.get()
    page = client.get(f"/presets/{preset.uuid}/open/").content.decode()
    start = page.index('<script id="tool-mocks" type="application/json">')
    script = page[start:page.index("</script>", start)].split(">", 1)[1]
    assert json.loads(script) == MOCKS
    # A plain chat page has none.
    assert 'id="tool-mocks"' not in client.get("/").content.decode()


def test_a_draft_carries_its_mocks_to_the_playground(rf, owner, fake_model):
    # Any way into the playground with a Draft (not only a preset's own
    # open view) hands the mocks to the page, through the view's context.
    from apps.presets.draft import Draft, open_in_playground

    request = rf.get("/")
    request.user = owner
    draft = Draft("chat", fake_model.uuid, BODY, title="Weather", tool_mocks=MOCKS)
    page = open_in_playground(request, draft).content.decode()
    start = page.index('<script id="tool-mocks" type="application/json">')
    script = page[start:page.index("</script>", start)].split(">", 1)[1]
    assert json.loads(script) == MOCKS


def test_it_exports_and_imports_mocks(client, owner, teammate, fake_model):
    client.force_login(owner)
    save(client, fake_model, tool_mocks=MOCKS)
    document = json.loads(client.get("/presets/export/").content)
    assert document["presets"][0]["tool_mocks"] == MOCKS

    client.force_login(teammate)
    f = io.BytesIO(json.dumps(document).encode())
    f.name = "presets.json"
    client.post("/presets/import/", {"file": f})
    assert Preset.objects.get(owner=teammate).latest.tool_mocks == MOCKS

    bad = {**document["presets"][0], "name": "Bad", "tool_mocks": {"get_weather": 1}}
    f = io.BytesIO(json.dumps([bad]).encode())
    f.name = "presets.json"
    response = client.post("/presets/import/", {"file": f})
    assert "tool_mocks.get_weather must be an object with a result" in response.content.decode()
    assert not Preset.objects.filter(name="Bad").exists()
