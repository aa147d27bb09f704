"""Delete and revoke ask first (Chromium): one delegated handler in
layout.js reads data-confirm, so no template carries inline JavaScript
handlers. Cancel sends nothing; OK goes ahead."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from apps.gateway.models import GatewayKey
from apps.history.models import Run
from apps.presets.models import Preset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


def answer_dialogs(page, accept):
    """Answer every confirm() with OK (answers["accept"] true) or Cancel, and
    keep what was asked."""
    answers = {"accept": accept, "asked": []}

    def on_dialog(dialog):
        answers["asked"].append(dialog.message)
        dialog.accept() if answers["accept"] else dialog.dismiss()

    page.on("dialog", on_dialog)
    return answers


def test_no_template_has_an_inline_handler():
    templates = Path(settings.BASE_DIR, "templates").rglob("*.html")
    offenders = [f"{t.name}: {m.group(0)}" for t in templates
                 for m in INLINE_HANDLER.finditer(t.read_text())]
    assert offenders == []


def test_it_deletes_a_run_only_once_confirmed(signed_in, owner, app_url):
    run = Run.objects.create(owner=owner, status=Run.COMPLETED, endpoint="completions",
                             model_name="Echo", request={"model": "echo-1", "prompt": "p"})
    page = signed_in(owner)
    answers = answer_dialogs(page, accept=False)
    page.goto(f"{app_url}/history/runs/{run.uuid}/")
    page.click(".delete-run")
    assert answers["asked"] == ["Delete this run?"]
    page.goto(f"{app_url}/history/runs/{run.uuid}/")  # Cancel: nothing was sent
    expect(page.locator(".delete-run")).to_be_visible()
    assert Run.objects.filter(pk=run.pk).exists()

    answers["accept"] = True
    page.click(".delete-run")
    expect(page).to_have_url(re.compile(r"/history/$"))
    assert not Run.objects.filter(pk=run.pk).exists()


def test_it_revokes_a_key_once_confirmed(signed_in, owner, app_url):
    key, _ = GatewayKey.create(owner, "scripts")
    page = signed_in(owner)
    answers = answer_dialogs(page, accept=True)
    page.goto(f"{app_url}/settings/keys/")
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("button", name="Revoke")).to_have_count(0)
    assert answers["asked"] == ["Revoke this key? Scripts using it stop working."]
    key.refresh_from_db()
    assert key.is_revoked


def test_it_deletes_a_preset_once_confirmed_and_selects_its_link(signed_in, owner, app_url,
                                                                 fake_model):
    preset = Preset.objects.get(pk=Preset.create(
        owner, "Story", "", "completions", fake_model, {"prompt": "Once"}).pk)
    preset.share()
    page = signed_in(owner)
    page.goto(f"{app_url}/presets/{preset.uuid}/")
    link = page.locator(".share-url")
    link.click()
    assert link.evaluate("el => [el.selectionStart, el.selectionEnd]") == [
        0, len(link.input_value())]
    answers = answer_dialogs(page, accept=True)
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/presets/$"))
    assert answers["asked"] == ["Delete this preset and all its versions?"]
    assert not Preset.objects.exists()
