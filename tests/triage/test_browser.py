"""A triager's desk in Debian's chromium: sign in with a code, an urgent tip arrives, handle it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from tests import factories
from tests.triage.conftest import audit_events, reread
from tipline.accounts.models import Role
from tipline.db import utcnow
from tipline.intake.models import Tip

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app served over HTTP on a free loopback port, refreshing the queue quickly."""
    app.config["QUEUE_REFRESH_SECONDS"] = 2
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


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
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    assert "Acknowledged." in page.inner_text("main")
    page.get_by_label("Actioned").check()
    page.get_by_role("button", name="Close tip").click()
    page.wait_for_load_state()
    assert "Tip closed." in page.inner_text("main")
    assert "Actioned" in page.locator("#closing").locator("xpath=..").inner_text()

    stored = reread(session).get(Tip, urgent.id)
    assert stored is not None and (stored.status, stored.resolution) == ("closed", "actioned")
    assert [e.target for e in audit_events(session, "tip.closed")] == [f"tip:{urgent.id}"]
    assert set(hosts) == {"127.0.0.1"}
    context.close()
