"""The pages on a phone and in the dark, and the playground's controls, in a
real browser (Debian Chromium via Playwright) against a live daphne server.
Layout is asserted on layout boxes, not screenshots."""

import re

import pytest
from playwright.sync_api import expect

from apps.history.models import Run
from apps.providers.models import ensure_local_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def local_model(transactional_db):
    return ensure_local_provider()


def assert_fits(page, *selectors):
    """No horizontal scrolling, and each visible element inside the screen."""
    width = page.evaluate("innerWidth")
    scroll = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll <= width, f"{page.url}: the page is {scroll}px wide on a {width}px screen"
    for selector in selectors:
        for box in page.locator(selector).evaluate_all(
            "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().toJSON())"
        ):
            assert box["left"] >= 0 and box["right"] <= width + 0.5, (selector, box)


def background_luminance(page, selector="body"):
    rgb = page.locator(selector).evaluate(
        "el => getComputedStyle(el).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
    )
    return sum(rgb) / 3


def text_luminance(page, selector):
    rgb = page.locator(selector).first.evaluate(
        "el => getComputedStyle(el).color.match(/\\d+/g).slice(0, 3).map(Number)"
    )
    return sum(rgb) / 3


def test_it_fits_a_390px_phone_in_the_dark_theme(signed_in, owner, app_url, local_model):
    page = signed_in(owner)
    page.set_viewport_size(PHONE)
    page.emulate_media(color_scheme="dark")
    for path in ("/", "/completions/"):
        page.goto(f"{app_url}{path}")
        # The system's dark setting is followed: dark page, light text.
        assert background_luminance(page) < 60
        assert background_luminance(page, ".editor") < 60
        assert text_luminance(page, "h2") > 180
        assert_fits(page, "#run-button", "#stop-button", "select[name=model]", ".params",
                    ".editor", "textarea", ".number-control", ".site-nav a")
    others = ("/history/", "/presets/", "/compare/", "/compare/?mode=completions",
              "/settings/keys/")
    for path in others:
        page.goto(f"{app_url}{path}")
        assert background_luminance(page) < 60, path
        assert_fits(page, "main > *")
    # Compare's panes stack on a phone: one under the other, each inside the screen.
    page.goto(f"{app_url}/compare/")
    boxes = page.locator(".pane").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().toJSON())"
    )
    assert len(boxes) >= 2
    assert boxes[1]["top"] >= boxes[0]["bottom"]
    assert_fits(page, ".pane", ".pane-model")


def test_it_remembers_the_theme_chosen_with_the_toggle(signed_in, owner, app_url, local_model):
    page = signed_in(owner)
    page.emulate_media(color_scheme="light")
    page.goto(f"{app_url}/completions/")
    assert background_luminance(page) > 200
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert background_luminance(page) < 60
    # Kept for the next page, set before the stylesheet applies (no light flash).
    page.goto(f"{app_url}/history/")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert background_luminance(page) < 60
    page.locator("#theme-toggle").click()
    assert background_luminance(page) > 200
    # Light was chosen: it wins over a dark system setting too.
    page.emulate_media(color_scheme="dark")
    page.reload()
    assert background_luminance(page) > 200


def test_it_lists_the_keyboard_shortcuts_on_question_mark(signed_in, owner, app_url, local_model):
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    page.locator(".prompt-head h2").click()  # a heading, not a text field
    page.keyboard.press("?")
    dialog = page.locator("#shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Enter")
    expect(dialog).to_contain_text("Esc")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # Typed in a text field, "?" is just a character.
    page.fill("[data-prompt]", "")
    page.type("[data-prompt]", "Why?")
    expect(dialog).to_be_hidden()
    expect(page.locator("[data-prompt]")).to_have_value("Why?")


def test_it_keeps_the_slider_and_the_number_box_in_sync_and_unset_sends_nothing(
    signed_in, owner, app_url, local_model
):
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(local_model.uuid))
    box = page.locator("[data-field=temperature]")
    slider = page.locator("[data-slider-for=temperature]")
    box.evaluate("el => el.closest('details').open = true")
    expect(box).to_have_value("")  # unset: nothing is sent
    # The slider moves the box...
    slider.fill("1.3")
    expect(box).to_have_value("1.3")
    # ...and the box moves the slider.
    box.fill("0.25")
    expect(slider).to_have_value("0.25")
    box.fill("7")  # beyond the range: the slider stops at its end, the box keeps it
    expect(slider).to_have_value("2")
    # Unset again with the button: the box empties and nothing is sent.
    page.locator("[data-unset=temperature]").click()
    expect(box).to_have_value("")
    page.fill("[data-prompt]", "Once upon a time")
    max_tokens = page.locator("[data-field=max_tokens]")
    max_tokens.evaluate("el => el.closest('details').open = true")
    max_tokens.fill("2")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=60_000)
    run = Run.objects.get()
    assert "temperature" not in run.request
    assert run.request["max_tokens"] == 2


def test_it_counts_the_prompts_tokens_with_the_embedded_model(
    signed_in, owner, app_url, local_model
):
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(local_model.uuid))
    page.fill("[data-prompt]", "The capital of France is")
    expect(page.locator("#token-count")).to_have_text(
        re.compile(r"^\d+ prompt tokens$"), timeout=30_000
    )
    first = int(page.locator("#token-count").inner_text().split()[0])
    page.fill("[data-prompt]", "The capital of France is Paris, and the capital of Italy is Rome.")
    expect(page.locator("#token-count")).not_to_have_text(f"{first} prompt tokens")
    assert int(page.locator("#token-count").inner_text().split()[0]) > first
    # Chat: the conversation as the model's template renders it.
    page.goto(f"{app_url}/")
    page.select_option("select[name=model]", str(local_model.uuid))
    expect(page.locator("#token-count")).to_have_text(
        re.compile(r"^\d+ prompt tokens$"), timeout=30_000
    )


def test_on_a_phone_the_keys_list_names_what_each_date_is(signed_in, owner, app_url):
    # The table's header row is hidden on a phone (the rows stack): the
    # created and last-used dates would be two bare dates side by side.
    from apps.gateway.models import GatewayKey

    GatewayKey.create(owner, "laptop")
    page = signed_in(owner)
    page.set_viewport_size(PHONE)
    page.goto(f"{app_url}/settings/keys/")
    row = page.locator(".key-row").first
    expect(row).to_contain_text("laptop")
    assert not page.locator("table.keys thead").is_visible()
    labels = row.locator("td").evaluate_all(
        "els => els.map(e => getComputedStyle(e, '::before').content)")
    assert '"Created: "' in labels and '"Last used: "' in labels
    # On a wide screen the header says it once, above the column.
    page.set_viewport_size({"width": 1200, "height": 800})
    expect(page.locator("table.keys thead")).to_be_visible()
    labels = row.locator("td").evaluate_all(
        "els => els.map(e => getComputedStyle(e, '::before').content)")
    assert set(labels) == {"none"}
