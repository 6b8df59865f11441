"""A traveler who cannot use a pointer or needs large text: the whole flow by keyboard, no
horizontal scroll at 320 px or at 200% zoom, errors announced and tied to their fields."""

from __future__ import annotations

from typing import Any

import pytest

from tests.a11y.conftest import LANGS
from tests.intake.conftest import Posters

pytestmark = pytest.mark.browser

FOCUSED = """() => { const el = document.activeElement;
  return [el.tagName.toLowerCase(), el.id || el.className || el.textContent.trim().slice(0, 30),
          getComputedStyle(el).outlineStyle]; }"""


def tab_to(page: Any, wanted: str, limit: int = 80) -> list[list[str]]:
    """Press Tab until the element with id or class `wanted` has focus; every stop on the way."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED)
        stops.append(stop)
        if stop[1] == wanted:
            return stops
    raise AssertionError(f"{wanted} never took focus; stops: {stops}")


def test_the_whole_flow_works_by_keyboard_alone(
    browser: Any, live_server: str, posters: Posters
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"{live_server}/T/{posters.station}")
    stops = tab_to(page, "i-holds_documents")
    # The way out and the way to help come first, and every stop shows where focus is.
    assert [s[1] for s in stops[:2]] == ["call", "qx"]
    assert all(outline != "none" for _tag, _what, outline in stops), stops
    page.keyboard.press("Space")
    assert page.is_checked("#i-holds_documents")
    tab_to(page, "now-y")
    page.keyboard.press("Space")
    tab_to(page, "details")
    page.keyboard.type("A man keeps the passports of three young women.")
    tab_to(page, "consent")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)[0] == "button"
    page.keyboard.press("Enter")
    page.wait_for_selector(".code")  # sent in the background; the answer replaces the page
    assert page.locator(".code").count() == 1  # the thank-you page, with its receipt
    context.close()


def no_sideways_scroll(page: Any) -> int:
    return int(
        page.evaluate(
            "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
        )
    )


@pytest.mark.parametrize(
    ("viewport", "scale"),
    [
        ({"width": 320, "height": 640}, 1),
        # A 640 px window zoomed to 200%: the page lays out in 320 CSS px, each drawn twice.
        ({"width": 320, "height": 400}, 2),
        # A 1280 px desktop at 200%.
        ({"width": 640, "height": 400}, 2),
    ],
)
def test_no_page_scrolls_sideways_at_320px_or_200_percent(
    browser: Any,
    live_server: str,
    posters: Posters,
    traveler_pages: list[tuple[str, str]],
    viewport: dict[str, int],
    scale: int,
) -> None:
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
    page = context.new_page()
    wide = {}
    for lang in LANGS:
        for name, path in traveler_pages:
            page.goto(f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}")
            wide[f"{name}-{lang}"] = no_sideways_scroll(page)
        page.goto(f"{live_server}/T/{posters.station}?lang={lang}")
        page.fill("#details", "x" * 4001)
        page.fill("#people", "lots")
        page.locator("button[type=submit]").click()
        page.wait_for_selector("[aria-invalid=true]")  # send.js's answer replaced the page
        wide[f"errors-{lang}"] = no_sideways_scroll(page)
        page.fill("#details", "A tip.")
        page.fill("#people", "2")
        page.locator("button[type=submit]").click()
        page.wait_for_selector(".code")
        assert page.locator(".code").count() == 1
        wide[f"thanks-{lang}"] = no_sideways_scroll(page)
    context.close()
    assert {name: px for name, px in wide.items() if px > 0} == {}


@pytest.mark.parametrize("lang", LANGS)
def test_errors_are_announced_and_tied_to_their_fields(
    browser: Any, live_server: str, posters: Posters, lang: str
) -> None:
    page = browser.new_page()
    page.goto(f"{live_server}/T/{posters.station}?lang={lang}")
    page.fill("#details", "x" * 4001)
    page.fill("#people", "lots")
    page.locator("button[type=submit]").click()
    page.wait_for_selector("[role=alert]")
    alert = page.locator("[role=alert]")
    assert alert.count() == 1 and alert.inner_text().strip()
    invalid = page.locator("[aria-invalid=true]")
    assert sorted(invalid.evaluate_all("els => els.map(e => e.id)")) == ["details", "people"]
    for field in ("details", "people"):
        described = page.get_attribute(f"#{field}", "aria-describedby") or ""
        texts = [page.inner_text(f"#{ref}") for ref in described.split()]
        error = page.inner_text(f"#{field}-e")
        assert error and error in texts, (field, described)
    page.close()
