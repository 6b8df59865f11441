"""A shared phone keeps no trace of a report: the quick exit leaves no history entry, and after
the form and the thank-you page the browser holds no cookie, no storage and no copy of a page
with the tip's text."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.intake.conftest import Posters
from tipline.intake.views import QUICK_EXIT_URL

pytestmark = pytest.mark.browser

TIP = "The man in the red coat holds her passport"


def neutral_site(context: Any) -> None:
    """The quick exit's neutral site, answered locally: tests never leave the machine."""
    context.route(
        f"{QUICK_EXIT_URL}**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>Weather</p>"),
    )


def test_quick_exit_replaces_the_history_entry(
    browser: Any, live_server: str, posters: Posters
) -> None:
    context = browser.new_context()
    neutral_site(context)
    page = context.new_page()
    page.goto(f"{live_server}/")
    page.goto(f"{live_server}/T/{posters.station}")
    before = page.evaluate("history.length")
    page.fill("#details", TIP)
    page.click("#qx")
    page.wait_for_url(f"{QUICK_EXIT_URL}**")
    assert page.evaluate("history.length") == before  # replaced, not added
    page.go_back()
    assert page.url == f"{live_server}/"  # "back" skips the form: it is no longer in history
    context.close()


def test_without_javascript_the_quick_exit_still_leaves(
    browser: Any, live_server: str, posters: Posters
) -> None:
    context = browser.new_context(java_script_enabled=False)
    neutral_site(context)
    page = context.new_page()
    page.goto(f"{live_server}/T/{posters.station}")
    page.click("#qx")
    page.wait_for_url(f"{QUICK_EXIT_URL}**")
    assert "Weather" in page.content()
    context.close()


@pytest.mark.parametrize("script", [True, False], ids=["sender", "no-javascript"])
def test_after_reporting_the_browser_keeps_nothing(
    browser: Any, live_server: str, posters: Posters, script: bool
) -> None:
    # With JavaScript the form is sent in the background (send.js) and the answer replaces the
    # page; without it, as a plain POST. Neither may leave the tip's text behind.
    context = browser.new_context(java_script_enabled=script)
    page = context.new_page()
    headers: dict[str, str] = {}
    page.on(
        "response",
        lambda r: (
            headers.__setitem__(r.url, r.headers.get("cache-control", ""))
            if r.url.startswith(live_server)
            else None
        ),
    )
    cached: list[str] = []
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.on(
        "Network.responseReceived",
        lambda e: (
            cached.append(e["response"]["url"])
            if e["response"].get("fromDiskCache") or e["response"].get("fromPrefetchCache")
            else None
        ),
    )
    page.goto(f"{live_server}/T/{posters.station}")
    page.fill("#details", TIP)
    page.fill("#people", "lots")  # an error first: the form comes back holding the tip's text
    page.click("button[type=submit]")
    page.wait_for_selector("#people[aria-invalid=true]")
    assert TIP in page.content()
    page.fill("#people", "2")
    page.click("button[type=submit]")
    page.wait_for_selector(".code")
    assert page.locator(".code").count() == 1
    assert all("no-store" in value for value in headers.values()), headers
    assert context.cookies() == []
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    if script:
        # The answers replaced the open page: history holds only the empty form's address.
        page.go_back()
    else:
        # Back to the page that held the tip's text (a POST's answer): the browser has no copy
        # to show (no-store keeps it out of the cache and the back-forward cache), so it can
        # only ask to send the form again, and Chromium says ERR_CACHE_MISS.
        with pytest.raises(PlaywrightError, match="ERR_CACHE_MISS"):
            page.go_back()
    page.wait_for_timeout(500)
    page.wait_for_load_state()
    assert TIP not in page.content()
    assert cached == []
    history = cdp.send("Page.getNavigationHistory")
    titles = " ".join(entry["title"] for entry in history["entries"]).lower()
    assert "trafficking" not in titles  # what a glance at the history shows
    context.close()
