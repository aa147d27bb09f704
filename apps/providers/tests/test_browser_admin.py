"""End to end, as staff would do it: add a provider with a key in Django admin,
test it, discover its models, enable one, and stream from it in the playground."""

import pytest
from playwright.sync_api import expect

from apps.history.models import Run
from apps.providers.models import Model, Provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEY = "sk-live-provider-key-for-the-admin-test-7f3q"


def run_action(page, provider_name, action):
    page.locator("#result_list tr", has_text=provider_name).locator("input.action-select").check()
    page.select_option("select[name=action]", label=action)
    page.click("button[name=index]")


def test_it_adds_tests_discovers_and_streams_from_a_provider(
    signed_in, staff, app_url, upstream
):
    upstream.require_key(KEY)
    upstream.behave(chunks=["Hello ", "from ", "upstream"])
    page = signed_in(staff)

    page.goto(f"{app_url}/admin/providers/provider/add/")
    page.fill("input[name=name]", "Team vLLM")
    page.select_option("select[name=kind]", "openai")
    page.fill("input[name=base_url]", upstream.url)
    page.fill("input[name=api_key]", KEY)
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("Team vLLM")
    # The key is masked everywhere in admin, and never in the page source.
    assert KEY not in page.content()

    run_action(page, "Team vLLM", "Test connection")
    expect(page.locator(".messagelist")).to_contain_text("Connected: 2 models")
    assert upstream.last.headers["authorization"] == f"Bearer {KEY}"

    run_action(page, "Team vLLM", "Discover models")
    expect(page.locator(".messagelist")).to_contain_text("2 new models added")
    provider = Provider.objects.get(name="Team vLLM")
    assert sorted(provider.models.values_list("upstream_id", flat=True)) == ["echo-1", "echo-2"]
    assert not provider.models.filter(enabled=True).exists()

    # Enable one model in its admin list.
    page.goto(f"{app_url}/admin/providers/model/?q=echo-1")
    page.locator("#result_list tr", has_text="echo-1").locator("input.action-select").check()
    page.select_option("select[name=action]", label="Enable selected models")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("1 model enabled")
    model = Model.objects.get(upstream_id="echo-1")

    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(model.uuid))
    page.fill("[data-prompt]", "Say hello")
    page.click("#run-button")
    expect(page.locator("#output .stream-text")).to_have_text("Hello from upstream")
    expect(page.locator("#result .status")).to_have_text("Completed")
    run = Run.objects.get()
    assert run.provider_name == "Team vLLM"
    assert KEY not in str(run.request) + str(run.response) + run.error


def test_it_says_when_the_provider_refuses_the_key(signed_in, staff, app_url, upstream):
    upstream.require_key("the-right-key-0123456789")
    Provider.objects.create(name="Wrong key", kind="openai", base_url=upstream.url,
                            api_key="sk-the-wrong-key-0123456789")
    page = signed_in(staff)
    page.goto(f"{app_url}/admin/providers/provider/")
    run_action(page, "Wrong key", "Test connection")
    message = page.locator(".messagelist")
    expect(message).to_contain_text("refused the API key")
    assert "sk-the-wrong-key-0123456789" not in page.content()
