"""Staff single sign-on against a real OpenID Connect provider (panva/oidc-provider on Node,
started by the test on loopback), driven in Debian's chromium: a staff member signs in through
it; a disabled account, an unverified email and an unknown one cannot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from tests import factories
from tests.conftest import make_test_app
from tests.processes import free_port, wait_for_port
from tipline.accounts.models import AuditEvent, Role, StaffSession
from tipline.db import Database

OIDC = Path(__file__).resolve().parent / "oidc"
CLIENT_ID, CLIENT_SECRET = "tipline-desk", "oidc-test-client-secret"
ACCOUNTS = {
    "alice": {"email": "alice@example.gov", "email_verified": True},
    "bob": {"email": "bob@example.gov", "email_verified": True},
    "carol": {"email": "carol@example.gov", "email_verified": False},
    "dave": {"email": "dave@example.gov", "email_verified": True},
}


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (OIDC / "node_modules" / "oidc-provider").is_dir():
        pytest.skip(
            "the test OIDC provider needs Node.js and `npm install` in tests/ops/oidc "
            "(make install-test does it when npm is present)"
        )
    return node


@pytest.fixture
def sso_site(
    _migrated: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Flask]]:
    """Tipline served on loopback with SSO through a real provider on another port."""
    node = _node()
    # Both ends are on loopback in plain HTTP; Authlib wants TLS for anything else.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    provider_port = free_port()
    app = make_test_app(
        _migrated,
        tmp_path / "instance",
        PUBLIC_URL="http://127.0.0.1",
        OIDC_ISSUER=f"http://127.0.0.1:{provider_port}",
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET=CLIENT_SECRET,
        OIDC_NAME="Agency SSO",
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    env = {
        **os.environ,
        "PORT": str(provider_port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": f"{base}/staff/sso/callback",
        "ACCOUNTS": json.dumps(ACCOUNTS),
    }
    log = (tmp_path / "oidc.log").open("w")
    provider = subprocess.Popen(
        [node, "provider.mjs"], cwd=OIDC, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        wait_for_port(provider_port, timeout=30, process=provider)  # type: ignore[arg-type]
        yield base, app
    finally:
        server.shutdown()
        thread.join(10)
        provider.terminate()
        provider.wait(10)
        log.close()
        Database.engine(app).dispose()


def _through_provider(browser: Any, base: str, login: str) -> Any:
    """One person's browser: the sign-in page's SSO link, the provider's pages, back."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/staff/signin")
    page.click("text=Sign in with Agency SSO")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password: the provider's dev pages take it")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if not page.url.startswith(base):
        page.click("button[type=submit]")  # the provider's consent page
    page.wait_for_url(f"{base}/**")
    return page


def _events(session: Session, action: str) -> list[AuditEvent]:
    session.rollback()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.mark.browser
def test_staff_sign_in_through_the_provider_and_refusals(
    sso_site: tuple[str, Flask], browser: Any, session: Session
) -> None:
    base, _app = sso_site
    alice, _ = factories.staff_user(
        session, email="alice@example.gov", role=Role.TRIAGER, jurisdictions=["NJ"]
    )
    factories.staff_user(session, email="bob@example.gov", active=False)
    factories.staff_user(session, email="carol@example.gov")
    alice_id = alice.id

    page = _through_provider(browser, base, "alice")
    assert page.url.rstrip("/").endswith("/staff"), page.url
    account = page.goto(f"{base}/staff/account")
    assert account is not None and account.status == 200
    text = page.content()
    assert "alice@example.gov" in text and "NJ" in text  # Tipline's own jurisdictions
    [signed_in] = _events(session, "signin.sso")
    assert signed_in.actor_id == alice_id and signed_in.detail["step"] == "sso"
    assert session.scalar(select(StaffSession).where(StaffSession.user_id == alice_id))

    for login, reason in (
        ("bob", "account disabled"),
        ("carol", "email not verified by the provider"),
        ("dave", "unknown account"),
    ):
        page = _through_provider(browser, base, login)
        assert page.url.endswith("/staff/signin"), page.url
        assert "Single sign-on did not sign you in" in page.content()
        assert page.goto(f"{base}/staff/account") is not None
        assert page.url.startswith(f"{base}/staff/signin")  # not signed in
        failures = _events(session, "signin.failure")
        assert failures[-1].detail["reason"] == reason, failures[-1].detail
        assert failures[-1].detail["step"] == "sso"
    assert len(_events(session, "signin.sso")) == 1


def test_no_link_without_a_provider(client: Any) -> None:
    page = client.get("/staff/signin").get_data(as_text=True)
    assert "/staff/sso/start" not in page
    assert client.get("/staff/sso/start").status_code == 404


def test_a_half_configured_provider_stops_the_start(_migrated: str, tmp_path: Path) -> None:
    from tipline.config import SettingsError

    with pytest.raises(SettingsError, match="TIPLINE_OIDC_CLIENT_SECRET"):
        make_test_app(
            _migrated, tmp_path / "i", OIDC_ISSUER="https://id.example.org", OIDC_CLIENT_ID="x"
        )
