"""In Debian's chromium: an admin invites a triager on the web, the triager sets up and signs
in, the admin disables them and the triager's open session ends."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests import factories
from tipline.accounts.models import Role
from tipline.accounts.totp import STEP_SECONDS
from tipline.db import utcnow

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a long new passphrase for the desk 7"


def _sign_in(page: Any, base: str, email: str, password: str, code: str) -> None:
    page.goto(f"{base}/staff/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_invite_set_up_sign_in_then_disable_ends_the_session(
    browser: Any, live_server: str, app: Flask, session: Session
) -> None:
    admin, secret = factories.staff_user(
        session, email="chief@ny.example.gov", role=Role.ADMIN, jurisdictions=["NY"]
    )
    admins = browser.new_context().new_page()
    client = app.test_client()
    _sign_in(
        admins,
        live_server,
        admin.email,
        factories.STAFF_PASSWORD,
        factories.totp_code(client, admin.email, secret),
    )

    admins.goto(f"{live_server}/staff/users")
    admins.get_by_role("link", name="Invite a staff member").click()
    admins.get_by_label("Email").fill("new.triager@ny.example.gov")
    admins.get_by_label("Role").select_option("triager")
    admins.get_by_label("Jurisdictions").select_option(["NY"])
    with admins.expect_navigation():
        admins.get_by_role("button", name="Invite").click()
    link = admins.locator("#setup-link").inner_text()
    assert urlsplit(link).path.startswith("/staff/setup/")

    # The triager opens the link in a browser of their own.
    triagers = browser.new_context().new_page()
    triagers.goto(live_server + urlsplit(link).path)
    enrolled = triagers.locator("code.secret").inner_text().replace(" ", "")
    triagers.get_by_label("New password").fill(NEW_PASSWORD)
    triagers.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    step = int(utcnow().timestamp()) // STEP_SECONDS
    triagers.get_by_label("6-digit code from the app").fill(pyotp.TOTP(enrolled).at(step * 30))
    triagers.get_by_role("button", name="Finish set-up").click()
    triagers.wait_for_url(f"{live_server}/staff/signin")
    _sign_in(
        triagers,
        live_server,
        "new.triager@ny.example.gov",
        NEW_PASSWORD,
        pyotp.TOTP(enrolled).at((step + 1) * 30),
    )
    triagers.wait_for_url(f"{live_server}/staff/")
    assert triagers.locator("h1").inner_text() == "Queue"

    # The admin disables them; the triager's next page is the sign-in page.
    admins.goto(f"{live_server}/staff/users")
    admins.get_by_role("link", name="new.triager@ny.example.gov").click()
    with admins.expect_navigation():
        admins.get_by_role("button", name="Disable new.triager@ny.example.gov").click()
    assert "disabled" in admins.inner_text("main")
    triagers.goto(f"{live_server}/staff/")
    assert "/staff/signin" in triagers.url
