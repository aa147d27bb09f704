"""The compare page on a 390 px phone in the dark theme (Chromium, layout
boxes and computed colours, no screenshots): panes, their controls, the
streamed outputs and the word diff read well and fit the screen. The light
theme is checked too, so the diff's colours are seen to follow the theme."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
# WCAG AA for body text.
READABLE = 4.5


def colours(locator):
    """(text, background) of an element as RGB tuples; a transparent
    background is the first opaque one behind it."""
    return locator.evaluate("""el => {
        const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
        const text = rgb(getComputedStyle(el).color).slice(0, 3);
        for (let e = el; e; e = e.parentElement) {
            const bg = rgb(getComputedStyle(e).backgroundColor);
            if (bg.length < 4 || bg[3] === 1) return [text, bg.slice(0, 3)];
        }
        return [text, [255, 255, 255]];
    }""")


def luminance(rgb):
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(locator):
    text, background = colours(locator)
    high, low = sorted((luminance(text), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def assert_fits(page, *selectors):
    width = page.evaluate("innerWidth")
    scroll = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll}px wide on a {width}px screen"
    for selector in selectors:
        for box in page.locator(selector).evaluate_all(
            "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().toJSON())"
        ):
            assert box["left"] >= 0 and box["right"] <= width + 0.5, (selector, box)


def run_a_round_and_diff(page, app_url, model):
    page.goto(f"{app_url}/compare/?mode=completions")
    panes = page.locator("#panes .pane")
    for i in range(2):
        panes.nth(i).locator(".pane-model").select_option(str(model.uuid))
    first = panes.nth(0)
    first.locator("details.pane-params").evaluate("el => el.open = true")
    first.locator("[data-field=n]").fill("2")  # synced: "Echo: …" and "Echo #1: …" to diff
    page.fill("#prompt", "the words to compare")
    page.click("#run-all")
    for i in range(2):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed")
    page.locator("#diff-a").select_option(index=0)
    page.locator("#diff-b").select_option(index=1)
    page.click("#diff-button")
    expect(page.locator("#diff .diff-text ins").first).to_be_visible()
    return panes


def test_it_reads_well_on_a_390px_phone_in_the_dark(signed_in, owner, app_url, fake_model,
                                                    upstream):
    page = signed_in(owner)
    page.set_viewport_size(PHONE)
    page.emulate_media(color_scheme="dark")
    panes = run_a_round_and_diff(page, app_url, fake_model)

    # Dark surfaces, light text: the page, each pane, its controls, the diff box.
    for locator in (page.locator("body"), panes.nth(0), page.locator("#diff .diff-text"),
                    panes.nth(0).locator("[data-field=temperature]")):
        text, background = colours(locator)
        assert luminance(background) < 0.05 and luminance(text) > 0.5, (locator, text, background)
    for locator in (panes.nth(0).locator(".stream-text").first,
                    panes.nth(0).locator(".pfield code").first,
                    page.locator("#diff .diff-text ins").first,
                    page.locator("#diff .diff-text del").first,
                    page.locator("#diff .diff-text span").first):
        assert contrast(locator) >= READABLE, locator
    # Not by colour alone: inserted words are underlined, deleted ones struck through.
    decorations = page.locator("#diff .diff-text").evaluate(
        "el => ['ins', 'del'].map(t => getComputedStyle(el.querySelector(t)).textDecorationLine)")
    assert decorations == ["underline", "line-through"]

    # Stacked panes, everything inside the screen (sliders and menus included).
    boxes = panes.evaluate_all("els => els.map(e => e.getBoundingClientRect().toJSON())")
    assert boxes[1]["top"] >= boxes[0]["bottom"]
    assert_fits(page, ".pane", ".pane-model", ".number-control", ".pfield select",
                ".pane-output", "#diff", ".diff-picker select")

    # The same page in the light theme: the diff's colours follow the theme.
    dark_ins = colours(page.locator("#diff .diff-text ins").first)
    page.locator("#theme-toggle").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    light_ins = colours(page.locator("#diff .diff-text ins").first)
    assert light_ins != dark_ins
    assert luminance(light_ins[1]) > 0.5
    assert contrast(page.locator("#diff .diff-text ins").first) >= READABLE
