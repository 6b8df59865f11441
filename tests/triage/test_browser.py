"""A triager's desk in Debian's chromium: sign in with a code, an urgent tip arrives, handle it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests import factories
from tests.triage.conftest import audit_events, reread
from tipline.accounts.models import Role
from tipline.config import update_settings
from tipline.db import utcnow
from tipline.intake.models import Tip

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def quick_refresh(app: Flask) -> None:
    """Refresh the queue every 2 s so the test sees a new tip arrive without waiting 30."""
    update_settings(app, QUEUE_REFRESH_SECONDS=2)


def test_sign_in_see_an_urgent_tip_arrive_acknowledge_and_close(
    browser: Any, live_server: str, app: Flask, session: Session
) -> None:
    user, secret = factories.staff_user(
        session, email="desk@ny.example.gov", role=Role.TRIAGER, jurisdictions=["NY"]
    )
    older = factories.tip(session, priority=3, received_at=utcnow() - timedelta(hours=2))
    session.commit()
    context = browser.new_context()
    page = context.new_page()
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).hostname or ""))

    page.goto(f"{live_server}/staff/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    client = app.test_client()
    page.get_by_label("6-digit code").fill(factories.totp_code(client, user.email, secret))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/staff/")
    assert page.locator("h1").inner_text() == "Queue"
    assert page.locator(f'a[href="/staff/tips/{older.id}"]').count() == 1

    # A traveler reports while the page sits open: it reloads itself, urgent on top.
    urgent = factories.tip(
        session, priority=1, received_at=utcnow(), details="She is being moved tonight."
    )
    session.commit()
    page.wait_for_selector(
        f'tbody tr:first-child a[href="/staff/tips/{urgent.id}"]', timeout=15_000
    )
    assert "urgent" in page.locator("tbody tr").first.inner_text()

    page.locator(f'a[href="/staff/tips/{urgent.id}"]').click()
    page.wait_for_url(f"{live_server}/staff/tips/{urgent.id}")
    assert "She is being moved tonight." in page.inner_text("main")
    # Wait for the answer's navigation itself: on a busy machine the old page is still there.
    with page.expect_navigation():
        page.get_by_role("button", name="Acknowledge").click()
    assert "Acknowledged." in page.inner_text("main")
    page.get_by_label("Actioned").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Close tip").click()
    assert "Tip closed." in page.inner_text("main")
    assert "Actioned" in page.locator("#closing").locator("xpath=..").inner_text()

    stored = reread(session).get(Tip, urgent.id)
    assert stored is not None and (stored.status, stored.resolution) == ("closed", "actioned")
    assert [e.target for e in audit_events(session, "tip.closed")] == [f"tip:{urgent.id}"]
    assert set(hosts) == {"127.0.0.1"}
    context.close()


def test_an_open_queue_announces_a_new_urgent_tip(
    browser: Any, live_server: str, app: Flask, session: Session
) -> None:
    user, secret = factories.staff_user(
        session, email="watch@ny.example.gov", role=Role.VIEWER, jurisdictions=["NY"]
    )
    already = factories.tip(session, priority=1, received_at=utcnow() - timedelta(minutes=3))
    session.commit()
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{live_server}/staff/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    code = factories.totp_code(app.test_client(), user.email, secret)
    page.get_by_label("6-digit code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/staff/")
    # What was there when the page opened is not news: no banner, no chime.
    assert page.title() == "(1 urgent) Queue · Tipline staff"
    assert page.locator("#urgent-watch").is_hidden()
    assert page.locator("html").get_attribute("data-chime") is None

    urgent = factories.tip(session, priority=1, received_at=utcnow())
    session.commit()
    # Polled from here: the page's CSP (rightly) refuses Playwright's string evaluation.
    for _ in range(150):
        if page.title().startswith("(1 new urgent)"):
            break
        page.wait_for_timeout(100)
    assert page.title() == "(1 new urgent) (2 urgent) Queue · Tipline staff"
    banner = page.locator("#urgent-watch")
    assert banner.is_visible() and f"New urgent tip: #{urgent.id}" in banner.inner_text()
    # A chime was made with Web Audio: playing, or waiting for a click where autoplay is barred.
    assert page.locator("html").get_attribute("data-chime") in ("running", "suspended")
    assert already.id != urgent.id

    # It stays announced across the next reloads until someone says they have seen it.
    page.wait_for_timeout(2500)
    assert page.title().startswith("(1 new urgent)")
    banner.get_by_role("button", name="Seen").click()
    assert page.title() == "(2 urgent) Queue · Tipline staff" and banner.is_hidden()
    assert problems == []  # the CSP let our one script run and blocked nothing it needed
    context.close()
