"""A traveler's phone: Debian's chromium at 320 px, JavaScript off, talking to a live server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.intake.conftest import Posters
from tipline.intake.i18n import LANGUAGES
from tipline.intake.models import Tip
from tipline.locations.codes import display

PHONE = {"width": 320, "height": 640}

pytestmark = pytest.mark.browser


def watch_hosts(page: Any) -> list[str]:
    """Every host the page asks for anything."""
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).hostname or ""))
    return hosts


def test_report_from_a_phone_with_javascript_off(
    browser: Any, live_server: str, posters: Posters, session: Session
) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    hosts = watch_hosts(page)
    page.goto(f"{live_server}/t/{posters.train.lower()}")
    assert page.locator(".where").inner_text() == (
        f"Train 66 · Northeast Regional · Car 3 vestibule · poster {display(posters.train)}"
    )
    assert "This site is tips.example.org." in page.inner_text("main")
    page.get_by_label("Avoids staff or police").check()
    page.get_by_label("Yes").check()
    page.get_by_label("Car number").fill("3")
    page.get_by_label("Details").fill("A girl with a man who holds her phone and ticket.")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_selector(
        "p.code"
    )  # sent in the background (send.js); the answer replaces the page
    assert "Thank you. We received your report." in page.inner_text("h1")
    receipt = page.locator(".code").inner_text()
    assert len(receipt) == 19
    assert "1-888-373-7888" in page.inner_text("main")
    assert set(hosts) == {"127.0.0.1"}
    assert context.cookies() == []
    session.commit()
    (tip,) = session.scalars(select(Tip)).all()
    assert (tip.car, tip.happening_now, tip.indicators) == ("3", True, ["avoids_staff"])
    context.close()


def test_pages_fit_a_320px_screen_with_big_tap_targets(
    browser: Any, live_server: str, posters: Posters
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    hosts = watch_hosts(page)
    paths = ["/", "/help", "/report", "/T/K7Q2M9XQ", "/nowhere"]
    paths += [f"/T/{code}" for code in (posters.station, posters.train, posters.retired)]
    for path in paths:
        for lang in LANGUAGES:
            page.goto(f"{live_server}{path}?lang={lang}")
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 320, f"{path}?lang={lang} is {width}px wide"
            small = page.evaluate(
                """() => [...document.querySelectorAll(
                     'a, button, input:not([type=hidden]):not([type=checkbox]):not([type=radio]),'
                     + ' textarea, label.c')]
                   .filter(el => !el.closest('.hp'))
                   .filter(el => el.getBoundingClientRect().height < 44)
                   .map(el => el.outerHTML.slice(0, 80))"""
            )
            assert small == [], f"{path}?lang={lang}: {small}"
    assert set(hosts) == {"127.0.0.1"}
    context.close()


def test_quick_exit_leaves_no_way_back_with_javascript_on(
    browser: Any, live_server: str, posters: Posters
) -> None:
    context = browser.new_context(viewport=PHONE)
    # The neutral site is answered here: the test never reaches the internet.
    context.route(
        "https://www.weather.gov/**",
        lambda route: route.fulfill(body="<title>Weather</title>", content_type="text/html"),
    )
    page = context.new_page()
    page.goto(f"{live_server}/")
    page.goto(f"{live_server}/T/{posters.station}")
    page.get_by_role("link", name="Quick exit").click()
    page.wait_for_url("https://www.weather.gov/")
    page.go_back()
    # The form was replaced in history: going back lands on the page before it.
    assert urlsplit(page.url).path == "/"
    context.close()


def test_an_arabic_phone_gets_a_right_to_left_form_that_sends(
    browser: Any, live_server: str, posters: Posters, session: Session
) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport=PHONE, extra_http_headers={"Accept-Language": "ar"}
    )
    page = context.new_page()
    # No poster language to follow (the form without a code): the phone's language decides.
    page.goto(f"{live_server}/report")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "ar",
        "rtl",
    ]
    # Mirrored: the call button, first in reading order, sits on the right; quick exit on the left.
    call, exit_ = (page.locator(selector).bounding_box()["x"] for selector in (".call", ".exit"))
    assert call > exit_
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 320
    # The switcher names every language in its own words.
    switcher = page.locator(".nav").first.inner_text()
    for name in ("English", "Español", "Français", "中文（简体）", "Tiếng Việt", "Kreyòl ayisyen"):
        assert name in switcher
    page.get_by_label("أين أنت؟").fill("محطة نيويورك بن")
    page.get_by_label("يتجنب الموظفين أو الشرطة").check()
    page.get_by_role("button", name="أرسل البلاغ").click()
    page.wait_for_selector("p.code")
    assert page.inner_text("h1") == "شكرًا لك. لقد تلقّينا بلاغك."
    assert page.evaluate("document.documentElement.dir") == "rtl"
    session.commit()
    (tip,) = session.scalars(select(Tip)).all()
    assert tip.indicators == ["avoids_staff"]
    context.close()


def test_a_poster_place_reads_right_to_left_in_arabic(
    browser: Any, live_server: str, posters: Posters
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/T/{posters.station}?lang=ar")
    rule = page.evaluate(
        """() => { const s = getComputedStyle(document.querySelector('.where'));
                   return [s.borderRightWidth, s.borderLeftWidth]; }"""
    )
    assert rule == ["4px", "0px"]  # the place's blue rule starts the line, on the right
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 320
    context.close()


def count_tips(session: Session) -> int:
    session.commit()
    return len(session.scalars(select(Tip)).all())


def test_a_proxy_error_keeps_the_report_and_sends_it_again(
    browser: Any, live_server: str, posters: Posters, session: Session
) -> None:
    """F19: a 502 from a proxy is not our page: the form and its text stay, the traveler is
    told, and the report is sent again with backoff."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    posts: list[int] = []

    def first_fails(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(1)
        if len(posts) == 1:
            route.fulfill(status=502, body="<h1>502 Bad Gateway</h1>", content_type="text/html")
        else:
            route.continue_()

    page.route(f"{live_server}/T/**", first_fails)
    page.goto(f"{live_server}/T/{posters.station}")
    page.get_by_label("Details").fill("Kept through a bad gateway.")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_function("document.getElementById('net').textContent.includes('No signal')")
    assert "Bad Gateway" not in page.inner_text("body")
    assert page.get_by_label("Details").input_value() == "Kept through a bad gateway."
    page.wait_for_selector("p.code", timeout=15_000)
    assert "Thank you. We received your report." in page.inner_text("h1")
    assert len(posts) == 2
    assert count_tips(session) == 1
    context.close()


def test_a_body_too_large_keeps_the_text_and_says_so(
    browser: Any, live_server: str, posters: Posters, session: Session
) -> None:
    """F19: a 413 (nginx's, say) is not retried forever: a clear message, the text kept, and
    the traveler can send again (with a smaller photo)."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    posts: list[int] = []

    def too_large(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(1)
        if len(posts) == 1:
            route.fulfill(status=413, body="<h1>413 Request Entity Too Large</h1>")
        else:
            route.continue_()

    page.route(f"{live_server}/T/**", too_large)
    page.goto(f"{live_server}/T/{posters.station}")
    page.get_by_label("Details").fill("Too big a photo, words kept.")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_function("document.getElementById('net').textContent.includes('Too much')")
    page.wait_for_timeout(2500)  # a retry would have come by now
    assert len(posts) == 1 and count_tips(session) == 0
    assert page.get_by_label("Details").input_value() == "Too big a photo, words kept."
    assert "remove a photo" in page.locator("#net").inner_text()
    page.get_by_role("button", name="Send report").click()  # enabled again
    page.wait_for_selector("p.code", timeout=15_000)
    assert count_tips(session) == 1
    context.close()


def test_our_own_error_page_still_replaces_the_form(
    browser: Any, live_server: str, posters: Posters
) -> None:
    """The form again with its errors (a 400 here) is ours: it replaces the page."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/T/{posters.station}")
    page.get_by_label("Details").fill("Typed before the token went bad.")
    page.evaluate("document.querySelector('[name=token]').value = 'damaged'")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Send report").click()
    assert answer.value.status == 400
    page.wait_for_selector("[role=alert]")
    assert page.get_by_label("Details").input_value() == "Typed before the token went bad."
    context.close()
