"""Saving, opening, versions, sharing, forking and deleting presets; who may."""

import json

import pytest

from apps.presets.models import Preset

pytestmark = pytest.mark.django_db

CHAT_BODY = {
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    "temperature": 0.5,
    "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
    "response_format": {"type": "json_object"},
}


def post_dialog(client, url, data):
    """The Save preset dialog as htmx posts it: its fields, and the
    playground's form as mode, model and body (JSON text)."""
    data = {**data, "body": json.dumps(data["body"]) if "body" in data else ""}
    return client.post(url, data, HTTP_HX_REQUEST="true")


def save(client, fake_model, body=CHAT_BODY, mode="chat", name="Brief", url="/presets/new/"):
    return post_dialog(client, url, {"name": name, "description": "d", "mode": mode,
                                     "model": str(fake_model.uuid), "body": body})


def beside(html, field):
    """The errors shown right after a field's control."""
    control = html.index(f'name="{field}"')
    end = html.index("</ul>", control)
    return html[control:end]


def test_it_saves_the_playground_form(client, owner, fake_model):
    client.force_login(owner)
    response = save(client, fake_model)
    assert response.status_code == 200
    preset = Preset.objects.get()
    html = response.content.decode()
    assert "Saved “Brief”, version 1." in html
    assert f'href="/presets/{preset.uuid}/"' in html
    # From now on the dialog (and the toolbar's button) offer a new version of it.
    assert f'hx-post="/presets/{preset.uuid}/save/"' in html
    assert f'hx-get="/presets/new/?preset={preset.uuid}"' in html and "hx-swap-oob" in html
    assert preset.owner == owner and preset.mode == "chat"
    assert preset.latest.body == CHAT_BODY
    assert preset.latest.model == fake_model


def test_the_dialog_is_a_form_loaded_into_the_page(client, owner, preset):
    client.force_login(owner)
    html = client.get("/presets/new/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="preset-dialog"' in html and "<html" not in html
    assert 'name="name"' in html and 'name="description"' in html and "save-version" not in html
    # Opened from one of my presets: its name, and a new version of it.
    html = client.get(f"/presets/new/?preset={preset.uuid}", HTTP_HX_REQUEST="true").content
    assert b'value="Haiku writer"' in html and b"Save as a new version" in html


def test_it_refuses_an_invalid_form_with_the_catalogues_errors(client, owner, fake_model):
    client.force_login(owner)
    response = save(client, fake_model, body={**CHAT_BODY, "temperature": 3, "functions": []},
                    name="")
    assert response.status_code == 400
    html = response.content.decode()
    assert "give the preset a name" in beside(html, "name")
    response = save(client, fake_model, name="x" * 201)
    assert "name must be at most 200 characters" in beside(response.content.decode(), "name")
    response = save(client, fake_model, body={**CHAT_BODY, "temperature": 3, "functions": []})
    errors = response.content.decode()
    errors = errors[errors.index('class="preset-errors'):]
    assert "functions is deprecated; send tools instead" in errors
    assert "temperature must be between 0 and 2" in errors
    response = post_dialog(client, "/presets/new/", {"name": "x", "mode": "chat",
                                                     "model": "nope", "body": CHAT_BODY})
    assert "choose a model that serves chat" in response.content.decode()
    assert not Preset.objects.exists()


def test_it_saves_from_a_plain_form_post(client, owner, fake_model):
    client.force_login(owner)
    response = client.post("/presets/new/", {
        "name": "Plain", "mode": "completions", "model": str(fake_model.uuid),
        "body": json.dumps({"prompt": "Once", "max_tokens": 5}),
    })
    preset = Preset.objects.get()
    assert response.status_code == 302 and response.url == f"/presets/{preset.uuid}/"
    response = client.post("/presets/new/", {"name": "Bad", "mode": "completions",
                                             "model": str(fake_model.uuid), "body": "{"})
    assert response.status_code == 400
    # The same form, inside a page.
    html = response.content.decode()
    assert "body is not valid JSON" in html and "<html" in html and 'id="preset-dialog"' in html


def test_it_saves_a_new_version_and_keeps_the_old_one_viewable(client, owner, fake_model, preset):
    client.force_login(owner)
    response = save(client, fake_model, body={"messages": [{"role": "user", "content": "v2"}]},
                    name="Haiku writer", url=f"/presets/{preset.uuid}/save/")
    assert "version 2" in response.content.decode()
    html = client.get(f"/presets/{preset.uuid}/").content.decode()
    assert "v2" in html and "Version 1" in html
    old = client.get(f"/presets/{preset.uuid}/v/1/").content.decode()
    assert "Write a haiku" in old and "An older version" in old
    assert client.get(f"/presets/{preset.uuid}/v/9/").status_code == 404
    # Renaming is a save too.
    client.post(f"/presets/{preset.uuid}/edit/", {"name": "Renamed", "description": "new"})
    preset.refresh_from_db()
    assert preset.name == "Renamed" and preset.versions.count() == 3
    assert preset.latest.body == {"messages": [{"role": "user", "content": "v2"}]}
    # A name is required: the page again, the error beside the field, nothing saved.
    response = client.post(f"/presets/{preset.uuid}/edit/", {"name": " ", "description": ""})
    assert response.status_code == 400
    assert "give the preset a name" in beside(response.content.decode(), "name")
    assert preset.versions.count() == 3


def test_it_lists_only_my_presets(client, owner, outsider, preset, fake_model):
    Preset.create(outsider, "Not yours", "", "chat", fake_model, CHAT_BODY)
    client.force_login(owner)
    html = client.get("/presets/").content.decode()
    assert "Haiku writer" in html and "Not yours" not in html


def test_it_opens_a_preset_in_the_playground(client, owner, preset, fake_model):
    client.force_login(owner)
    html = client.get(f"/presets/{preset.uuid}/open/").content.decode()
    assert 'data-mode="chat"' in html
    assert "Write a haiku" in html  # the thread
    assert 'value="0.7"' in html
    assert f'<option value="{fake_model.uuid}" selected' in html
    # No conversation yet: the first run creates one.
    assert 'name="conversation" value=""' in html
    # The toolbar offers a new version of this preset.
    assert f'hx-get="/presets/new/?preset={preset.uuid}"' in html


def test_it_opens_an_older_version(client, owner, preset, fake_model):
    preset.add_version("Haiku writer", "", "completions", fake_model, {"prompt": "Newer"})
    client.force_login(owner)
    html = client.get(f"/presets/{preset.uuid}/open/?v=1").content.decode()
    assert 'data-mode="chat"' in html and "Write a haiku" in html
    html = client.get(f"/presets/{preset.uuid}/open/").content.decode()
    assert 'data-mode="completions"' in html and ">Newer</textarea>" in html


def test_it_shares_by_link_that_teammates_can_read_open_and_fork(client, owner, teammate, preset):
    client.force_login(owner)
    client.post(f"/presets/{preset.uuid}/share/", {"action": "share"})
    preset.refresh_from_db()
    link = f"/presets/s/{preset.share_token}/"
    assert link in client.get(f"/presets/{preset.uuid}/").content.decode()

    client.force_login(teammate)
    html = client.get(link).content.decode()
    assert "Haiku writer" in html and "Write a haiku" in html and "read-only" in html
    html = client.get(f"{link}open/").content.decode()
    assert "Write a haiku" in html
    assert "?preset=" not in html  # read-only: no saving over it
    response = client.post(f"{link}fork/")
    fork = Preset.objects.get(owner=teammate)
    assert response.url == f"/presets/{fork.uuid}/"
    assert fork.latest.body == preset.latest.body and not fork.is_shared
    # A fork is the teammate's own, private to them.
    client.force_login(owner)
    assert client.get(f"/presets/{fork.uuid}/").status_code == 404


def test_it_requires_sign_in_for_a_shared_link(client, preset):
    preset.share()
    assert client.get(f"/presets/s/{preset.share_token}/").status_code == 302


def test_it_revokes_a_link(client, owner, teammate, preset):
    preset.share()
    old = preset.share_token
    client.force_login(owner)
    client.post(f"/presets/{preset.uuid}/share/", {"action": "rotate"})
    preset.refresh_from_db()
    assert preset.share_token and preset.share_token != old
    client.force_login(teammate)
    assert client.get(f"/presets/s/{old}/").status_code == 404
    assert client.get(f"/presets/s/{preset.share_token}/").status_code == 200
    client.force_login(owner)
    client.post(f"/presets/{preset.uuid}/share/", {"action": "stop"})
    client.force_login(teammate)
    assert client.get(f"/presets/s/{preset.share_token}/").status_code == 404
    assert client.post(f"/presets/s/{preset.share_token}/fork/").status_code == 404


def test_it_hides_a_preset_from_everyone_else(client, outsider, teammate, preset, fake_model):
    preset.share()  # even shared: the uuid pages are the owner's alone
    u = preset.uuid
    for user in (outsider, teammate):
        client.force_login(user)
        for url in [f"/presets/{u}/", f"/presets/{u}/v/1/", f"/presets/{u}/open/",
                    f"/presets/{u}/export/"]:
            assert client.get(url).status_code == 404, url
        for url, data in [
            (f"/presets/{u}/share/", {"action": "stop"}),
            (f"/presets/{u}/edit/", {"name": "Mine now"}),
            (f"/presets/{u}/fork/", {}),
            (f"/presets/{u}/delete/", {}),
        ]:
            assert client.post(url, data).status_code == 404, url
        assert save(client, fake_model, url=f"/presets/{u}/save/").status_code == 404
    preset.refresh_from_db()
    assert preset.name == "Haiku writer" and preset.is_shared and preset.versions.count() == 1
    assert Preset.objects.count() == 1


def test_it_refuses_malformed_tokens(client, teammate):
    client.force_login(teammate)
    assert client.get("/presets/s/short/").status_code == 404
    assert client.get("/presets/s/" + "x" * 40 + "/").status_code == 404


def test_it_deletes_a_preset(client, owner, preset):
    client.force_login(owner)
    assert client.get(f"/presets/{preset.uuid}/delete/").status_code == 405
    response = client.post(f"/presets/{preset.uuid}/delete/")
    assert response.status_code == 302
    assert not Preset.objects.exists()


def test_it_forks_my_own_preset(client, owner, preset):
    client.force_login(owner)
    client.post(f"/presets/{preset.uuid}/fork/")
    assert sorted(Preset.objects.values_list("name", flat=True)) == [
        "Haiku writer", "Haiku writer (copy)"
    ]


def test_it_requires_login(client, preset):
    for url in ["/presets/", f"/presets/{preset.uuid}/", "/presets/import/", "/presets/export/"]:
        assert client.get(url).status_code == 302
    assert client.post("/presets/new/").status_code == 302
    assert client.post("/presets/code/").status_code == 302


def test_it_has_save_and_code_buttons_in_the_playground(client, owner):
    client.force_login(owner)
    html = client.get("/").content.decode()
    assert 'id="save-preset-button"' in html and 'id="view-code-button"' in html
    assert "js/presets" in html and "js/viewcode" in html


def test_staff_see_presets_in_the_admin(client, staff, preset):
    client.force_login(staff)
    assert "Haiku writer" in client.get("/admin/presets/preset/").content.decode()
    html = client.get(f"/admin/presets/preset/{preset.pk}/change/").content.decode()
    assert "Write a haiku" in html
    assert client.get("/admin/presets/presetversion/").status_code == 200


@pytest.mark.parametrize("url", ["/presets/new/", "/presets/import/"])
def test_a_dialog_and_its_page_are_cached_apart(client, owner, url):
    # One URL answers the dialog (htmx) or the whole page: a cache or Back
    # must never show the bare dialog as the page.
    client.force_login(owner)
    dialog = client.get(url, HTTP_HX_REQUEST="true")
    page = client.get(url)
    assert "<html" not in dialog.content.decode() and "<html" in page.content.decode()
    for response in (dialog, page):
        assert "HX-Request" in response["Vary"]
    # Back to a URL htmx pushed asks with HX-Request too, and gets the page.
    restored = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restored.content.decode()
