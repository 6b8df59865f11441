"""The one-time set-up link: choose a password, enrol the authenticator, confirm a code."""

from __future__ import annotations

import base64
import re

import pyotp

from tests.conftest import csrf_token
from tests.factories import sign_in
from tipline.accounts import users
from tipline.accounts.models import Role

PASSWORD = "lantern orbit pickle 9"


def _new_user(session, clock, email="nj@example.gov"):
    user, token = users.create_user(
        session,
        email=email,
        role=Role.TRIAGER,
        jurisdiction_codes=["NJ"],
        actor=None,
        now=clock.now,
    )
    session.commit()
    return user, token


def _secret(page: str) -> str:
    match = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page)
    assert match, "no secret on the page"
    return match.group(1).replace(" ", "")


def _submit(client, token, page, *, password=PASSWORD, confirm=None, code=""):
    return client.post(
        f"/staff/setup/{token}",
        data={
            "csrf_token": csrf_token(page),
            "password": password,
            "confirm": password if confirm is None else confirm,
            "code": code,
        },
    )


def test_only_a_hash_of_the_link_is_stored(session, clock) -> None:
    user, token = _new_user(session, clock)
    assert token not in (user.setup_token_hash or "")
    assert len(user.setup_token_hash or "") == 64
    assert user.password_hash is None and user.totp_secret is None


def test_set_up_then_sign_in(client, session, clock) -> None:
    user, token = _new_user(session, clock)
    response = client.get(f"/staff/setup/{token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "nj@example.gov" in page
    qr = re.search(r'<img class="qr" src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)"', page)
    assert qr, "the QR code is an inline data: image with alt text"
    assert b"<svg" in base64.b64decode(qr.group(1))
    secret = _secret(page)
    # Reloading the page keeps the same secret: a code scanned a moment ago stays good.
    assert _secret(client.get(f"/staff/setup/{token}").get_data(as_text=True)) == secret

    code = pyotp.TOTP(secret).at(clock.now)
    response = _submit(client, token, page, code=code)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/signin"
    session.refresh(user)
    assert user.password_hash and user.password_hash.startswith("$argon2id$")
    assert user.setup_token_hash is None

    # The link is spent.
    again = client.get(f"/staff/setup/{token}")
    assert again.status_code == 404
    assert "not valid" in again.get_data(as_text=True)

    clock.advance(seconds=30)
    sign_in(client, user.email, PASSWORD, secret)


def test_weak_password_wrong_code_and_mismatch_are_explained(client, session, clock) -> None:
    user, token = _new_user(session, clock)
    page = client.get(f"/staff/setup/{token}").get_data(as_text=True)
    secret = _secret(page)
    code = pyotp.TOTP(secret).at(clock.now)

    weak = _submit(client, token, page, password="password1234", code=code)
    assert weak.status_code == 200
    assert "too common" in weak.get_data(as_text=True)

    mismatch = _submit(client, token, page, confirm=PASSWORD + "x", code=code)
    assert "The passwords differ." in mismatch.get_data(as_text=True)

    wrong = _submit(client, token, page, code="000000" if code != "000000" else "111111")
    assert "That code did not match" in wrong.get_data(as_text=True)

    short = _submit(client, token, page, password="short", code=code)
    assert "at least 12" in short.get_data(as_text=True)

    session.refresh(user)
    assert user.password_hash is None and user.setup_token_hash is not None
    assert _submit(client, token, page, code=code).status_code == 302


def test_link_expires_after_72_hours(client, session, clock) -> None:
    _, token = _new_user(session, clock)
    clock.advance(hours=71, minutes=59)
    assert client.get(f"/staff/setup/{token}").status_code == 200
    clock.advance(minutes=2)
    assert client.get(f"/staff/setup/{token}").status_code == 404


def test_unknown_link_is_refused(client) -> None:
    assert client.get("/staff/setup/not-a-real-token").status_code == 404


def test_reset_issues_a_new_link_and_voids_the_old(client, session, clock) -> None:
    user, old = _new_user(session, clock)
    new = users.reset_user(session, user=user, actor=None, now=clock.now)
    session.commit()
    assert client.get(f"/staff/setup/{old}").status_code == 404
    assert client.get(f"/staff/setup/{new}").status_code == 200


def test_setup_post_without_csrf_token_is_rejected(client, session, clock) -> None:
    _, token = _new_user(session, clock)
    client.get(f"/staff/setup/{token}")
    response = client.post(
        f"/staff/setup/{token}", data={"password": PASSWORD, "confirm": PASSWORD, "code": "123456"}
    )
    assert response.status_code == 400
