"""The keys page in a real browser: a key created and its limits set through
htmx-posted forms, errors beside their fields, the list updated in place."""

import re

import pytest
from playwright.sync_api import expect

from apps.gateway.models import GatewayKey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_creates_a_key_and_sets_its_limits_without_leaving_the_page(
    signed_in, owner, app_url, settings
):
    page = signed_in(owner)
    page.goto(f"{app_url}/settings/keys/")
    page.click("#key-form button[type=submit]")
    # Refused: the error beside the name, no key.
    expect(page.locator("#key-form .errorlist")).to_contain_text("Give the key a name")
    assert not GatewayKey.objects.exists()

    page.fill("#key-form [name=name]", "nightly evals")
    page.click("#key-form button[type=submit]")
    secret = page.locator("#new-secret")
    expect(secret).to_have_value(re.compile(r"^pg-"))
    key = GatewayKey.objects.get()
    expect(page.locator(".key-row")).to_contain_text("nightly evals")
    expect(page.locator("#key-form [name=name]")).to_have_value("")
    assert page.url == f"{app_url}/settings/keys/"  # no page load: the secret stays on screen

    page.click(".key-row .limits-link")
    dialog = page.locator("#modal")
    expect(dialog.locator("#limits-form")).to_be_visible()
    dialog.locator("[name=tokens_per_day]").fill("0")
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".errorlist")).to_be_visible()
    dialog.locator("[name=tokens_per_day]").fill("5000")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".key-row .usage-tokens")).to_contain_text("0 / 5,000 tokens today")
    expect(page.locator("#key-notice")).to_contain_text("Saved the limits of")
    expect(secret).to_be_visible()
    key.refresh_from_db()
    assert key.tokens_per_day == 5000


def test_it_says_why_a_dialog_failed_and_keeps_the_input(signed_in, owner, app_url):
    key, _ = GatewayKey.create(owner, "nightly evals")
    page = signed_in(owner)
    page.goto(f"{app_url}/settings/keys/")
    page.click(".key-row .limits-link")
    dialog = page.locator("#modal")
    expect(dialog.locator("#limits-form")).to_be_visible()
    dialog.locator("[name=tokens_per_day]").fill("5000")
    # Signed out meanwhile (another tab, an expired session): the POST is a 403.
    page.context.clear_cookies()
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".request-error")).to_contain_text("Refused (403)")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[name=tokens_per_day]")).to_have_value("5000")
    key.refresh_from_db()
    assert key.tokens_per_day != 5000
