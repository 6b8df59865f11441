"""Signing in with a password and a code, throttling, sign-out, and what ends a session."""

from __future__ import annotations

import time

import pyotp
from sqlalchemy import select

from tests.conftest import csrf_token
from tests.factories import STAFF_PASSWORD, sign_in, staff_user, totp_code
from tipline.accounts import users
from tipline.accounts.auth import SESSION_KEY
from tipline.accounts.models import AuditEvent, Role, StaffSession, User
from tipline.accounts.models import Role as R
from tipline.config import update_settings
from tipline.db import db

GENERIC = "That email, password or code was not recognised."


def _password_step(client, email: str, password: str, next_: str | None = None):
    url = "/staff/signin" + (f"?next={next_}" if next_ else "")
    page = client.get(url)
    return client.post(
        url,
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": email,
            "password": password,
        },
    )


def _code_step(client, code: str):
    page = client.get("/staff/signin/code")
    return client.post(
        "/staff/signin/code",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "code": code},
    )


def _events(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def test_sign_in_with_password_and_code(client, session, clock) -> None:
    user, secret = staff_user(session)
    assert client.get("/staff/account").status_code == 302
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    page = client.get("/staff/account")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "ny@example.gov" in text and "Sign out" in text
    [event] = _events(session, "signin.success")
    assert event.actor_id == user.id and event.target == f"user:{user.id}"
    session.refresh(user)
    assert user.last_login_at == clock.now


def test_email_is_matched_without_regard_to_case(client, session, clock) -> None:
    _, secret = staff_user(session)
    response = _password_step(client, "  NY@Example.GOV ", STAFF_PASSWORD)
    assert response.headers["Location"].endswith("/staff/signin/code")


def test_next_is_kept_only_for_paths_on_this_site(client, session, clock) -> None:
    user, secret = staff_user(session)
    _password_step(client, user.email, STAFF_PASSWORD, next_="/staff/account%3Fx%3D1")
    response = _code_step(client, totp_code(client, user.email, secret))
    assert response.headers["Location"] == "/staff/account?x=1"

    other = client.application.test_client()
    _password_step(other, user.email, STAFF_PASSWORD, next_="//evil.example/steal")
    clock.advance(seconds=30)
    response = _code_step(other, totp_code(other, user.email, secret))
    assert "evil" not in response.headers["Location"]


def test_protected_page_sends_to_sign_in_with_next(client) -> None:
    response = client.get("/staff/users")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/signin?next=/staff/users"


def test_wrong_password_and_unknown_email_look_the_same(client, session, clock) -> None:
    user, _ = staff_user(session)
    wrong = _password_step(client, user.email, "not the right password at all")
    unknown = _password_step(client, "nobody@example.gov", "not the right password at all")
    for response in (wrong, unknown):
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert GENERIC in text
        assert "nobody@example.gov" in text or "ny@example.gov" in text  # the form keeps the email
        assert "not the right password" not in text
    failures = _events(session, "signin.failure")
    assert [f.target for f in failures] == [f"user:{user.id}", None]
    assert all(f.outcome == "failed" for f in failures)
    assert all("not the right password" not in str(f.detail) for f in failures)
    assert "nobody" not in str(failures[1].detail)


def test_wrong_code_is_refused_and_audited(client, session, clock) -> None:
    user, secret = staff_user(session)
    _password_step(client, user.email, STAFF_PASSWORD)
    good = pyotp.TOTP(secret).at(clock.now)
    wrong = "000000" if good != "000000" else "111111"
    response = _code_step(client, wrong)
    assert response.status_code == 200
    assert GENERIC in response.get_data(as_text=True)
    assert client.get("/staff/account").status_code == 302
    [failure] = _events(session, "signin.failure")
    assert failure.detail["step"] == "code"
    # The right code still works in the same pending sign-in.
    assert _code_step(client, good).status_code == 302
    assert client.get("/staff/account").status_code == 200


def test_the_code_step_expires_after_five_minutes(client, session, clock) -> None:
    user, secret = staff_user(session)
    _password_step(client, user.email, STAFF_PASSWORD)
    clock.advance(minutes=5, seconds=1)
    response = client.get("/staff/signin/code")
    assert response.headers["Location"] == "/staff/signin"
    page = client.get("/staff/signin").get_data(as_text=True)
    assert "took too long" in page


def _lock_quickly(app, seconds: float = 2.0) -> None:
    """Lockouts run on the shared limiter's real clock: make them seconds long in tests."""
    update_settings(app, SIGNIN_LOCK_MINUTES=seconds / 60)


def test_account_locks_after_five_failures_and_says_when_to_come_back(
    app, client, session, clock
) -> None:
    user, secret = staff_user(session)
    for _ in range(4):
        assert _password_step(client, user.email, "wrong password number x").status_code == 200
    locked = _password_step(client, user.email, "wrong password number x")
    assert locked.status_code == 429
    assert "Too many attempts. Try again in 15 minutes." in locked.get_data(as_text=True)
    # Even the right password is refused while locked, and no password is judged meanwhile.
    refused = _password_step(client, user.email, STAFF_PASSWORD)
    assert refused.status_code == 429
    assert "Try again in 15 minutes." in refused.get_data(as_text=True)
    reasons = [e.detail["reason"] for e in _events(session, "signin.failure")]
    assert reasons == ["wrong password"] * 4 + ["wrong password; locked", "locked"]


def test_a_lock_ends_when_it_said(app, client, session, clock) -> None:
    _lock_quickly(app)
    user, secret = staff_user(session)
    for _ in range(5):
        response = _password_step(client, user.email, "wrong password number x")
    assert response.status_code == 429
    assert "Try again in 1 minute." in response.get_data(as_text=True)
    assert _password_step(client, user.email, STAFF_PASSWORD).status_code == 429
    time.sleep(2.1)
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    # A success forgets the failures: five more are needed for the next lock.
    other = app.test_client()
    for _ in range(4):
        assert _password_step(other, user.email, "wrong password number x").status_code == 200


def test_wrong_codes_count_towards_the_lockout(client, session, clock) -> None:
    user, secret = staff_user(session)
    _password_step(client, user.email, STAFF_PASSWORD)
    for _ in range(4):
        assert _code_step(client, "000001").status_code == 200
    response = _code_step(client, "000001")
    assert response.status_code == 429
    assert "Try again in 15 minutes" in response.get_data(as_text=True)


def test_unknown_emails_count_and_lock_exactly_like_real_ones(app, session, clock) -> None:
    _lock_quickly(app)
    staff_user(session)

    def story(email: str) -> list[tuple[int, str]]:
        browser = app.test_client()
        answers = []
        for password in ["wrong password number x"] * 6 + [STAFF_PASSWORD]:
            response = _password_step(browser, email, password)
            text = response.get_data(as_text=True)
            message = (
                "locked" if "Too many attempts" in text else "generic" if GENERIC in text else ""
            )
            answers.append((response.status_code, message))
        return answers

    real, ghost = story("ny@example.gov"), story("ghost@example.gov")
    assert real[:6] == ghost[:6] == [(200, "generic")] * 4 + [(429, "locked")] * 2
    # Locked, even the right password is refused: the real account looks like the ghost.
    assert real[6] == ghost[6] == (429, "locked")
    time.sleep(2.1)
    assert _password_step(app.test_client(), "ghost@example.gov", "x" * 12).status_code == 200


def test_client_is_throttled_across_accounts(app, client, session, clock) -> None:
    window = 5.0
    update_settings(app, SIGNIN_CLIENT_MAX_FAILURES=4, SIGNIN_CLIENT_WINDOW_MINUTES=window / 60)
    for i in range(3):
        assert _password_step(client, f"u{i}@example.gov", "wrong password x").status_code == 200
        if i == 0:
            # Read after the first failure is counted, so a slow hash on a busy machine can
            # never make the wait below end before the window does.
            first = time.monotonic()
    response = _password_step(client, "u3@example.gov", "wrong password x")
    assert response.status_code == 429
    assert "Too many attempts. Try again in 1 minute." in response.get_data(as_text=True)
    user, secret = staff_user(session)
    assert _password_step(client, user.email, STAFF_PASSWORD).status_code == 429
    # Another address is not affected.
    other = app.test_client()
    page = other.get("/staff/signin")
    response = other.post(
        "/staff/signin",
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": user.email,
            "password": STAFF_PASSWORD,
        },
    )
    assert response.status_code == 302
    # The window opened at the first failure and closes exactly `window` seconds later.
    time.sleep(max(0.0, first + window + 0.2 - time.monotonic()))
    assert _password_step(client, user.email, STAFF_PASSWORD).status_code == 302


def test_successful_sign_ins_do_not_use_up_the_client_budget(app, session, clock) -> None:
    # An office behind one address: its staff signing in never throttles it.
    update_settings(app, SIGNIN_CLIENT_MAX_FAILURES=3)
    people = [staff_user(session, email=f"desk{i}@example.gov") for i in range(5)]
    for user, secret in people:
        sign_in(app.test_client(), user.email, STAFF_PASSWORD, secret)


def test_idle_timeout_signs_out(client, session, clock) -> None:
    user, secret = staff_user(session)
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    clock.advance(minutes=29)
    assert client.get("/staff/account").status_code == 200
    clock.advance(minutes=29)  # activity above reset the idle timer
    assert client.get("/staff/account").status_code == 200
    clock.advance(minutes=30, seconds=1)
    response = client.get("/staff/account")
    assert response.status_code == 302
    assert "/staff/signin" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "signed out after 30 minutes without activity" in page


def test_a_self_refreshing_page_does_not_keep_the_session_alive(client, session, clock) -> None:
    user, secret = staff_user(session)
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    for _ in range(3):
        clock.advance(minutes=10)
        assert client.get("/staff/account?auto=1").status_code == 200
    clock.advance(minutes=1)  # 31 minutes since the last real activity
    response = client.get("/staff/account?auto=1")
    assert response.status_code == 302 and "/staff/signin" in response.headers["Location"]


def _saved_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _replay(app, cookie: str):
    """A different browser presenting a cookie saved earlier."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/staff/account")


def test_sign_out_ends_the_session_on_the_server(app, client, session, clock) -> None:
    user, secret = staff_user(session)
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    page = client.get("/staff/account")
    saved = _saved_cookie(client)
    assert _replay(app, saved).status_code == 200  # the saved cookie works while signed in
    response = client.post(
        "/staff/signout", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )
    assert response.headers["Location"] == "/staff/signin"
    with client.session_transaction() as cookie:
        assert SESSION_KEY not in cookie
    assert client.get("/staff/account").status_code == 302
    replayed = _replay(app, saved)
    assert replayed.status_code == 302 and "/staff/signin" in replayed.headers["Location"]
    assert [e.actor_id for e in _events(session, "signout")] == [user.id]
    session.expire_all()
    [row] = session.scalars(select(StaffSession))
    assert row.end_reason == "signout" and row.ended_at == clock.now
    assert row.user_id == user.id and len(row.token_hash) == 64


def test_disable_ends_every_open_session_and_enable_revives_none(
    app, client, session, clock
) -> None:
    user, secret = staff_user(session)
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    saved = _saved_cookie(client)
    users.disable_user(session, user=user, actor=None, now=clock.now)
    session.commit()
    assert client.get("/staff/account").status_code == 302
    users.enable_user(session, user=user, actor=None, now=clock.now)
    session.commit()
    assert _replay(app, saved).status_code == 302
    session.expire_all()
    assert [r.end_reason for r in session.scalars(select(StaffSession))] == ["disabled"]


def test_a_role_change_ends_the_session(app, client, session, clock) -> None:
    user, secret = staff_user(session, role=R.ADMIN)
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    saved = _saved_cookie(client)
    assert client.get("/staff/users").status_code == 200
    users.change_user(
        session, user=user, role=R.VIEWER, jurisdiction_codes=None, actor=None, now=clock.now
    )
    session.commit()
    assert _replay(app, saved).status_code == 302
    assert client.get("/staff/users").status_code == 302  # to sign-in, not a stale admin page
    [event] = _events(session, "user.update")
    assert event.detail["sessions_ended"] == 1


def test_an_idle_session_ends_on_the_server_for_good(app, client, session, clock) -> None:
    user, secret = staff_user(session)
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    saved = _saved_cookie(client)
    clock.advance(minutes=30, seconds=1)
    assert _replay(app, saved).status_code == 302
    # Even with a longer timeout afterwards, the session stays ended.
    update_settings(app, SESSION_IDLE_MINUTES=600)
    assert _replay(app, saved).status_code == 302
    assert client.get("/staff/account").status_code == 302
    session.expire_all()
    [row] = session.scalars(select(StaffSession))
    assert row.end_reason == "idle"


def test_a_forged_or_unknown_session_token_is_refused(app, client, session, clock) -> None:
    with client.session_transaction() as cookie:
        cookie[SESSION_KEY] = {"sid": "made-up"}
    assert client.get("/staff/account").status_code == 302
    # The old cookie shape (a user id and version) opens nothing either.
    user, _ = staff_user(session)
    with client.session_transaction() as cookie:
        cookie[SESSION_KEY] = {"uid": user.id, "sv": 0, "seen": clock.now.timestamp()}
    assert client.get("/staff/account").status_code == 302


def test_disabled_user_cannot_sign_in(client, session, clock) -> None:
    user, _ = staff_user(session, active=False)
    response = _password_step(client, user.email, STAFF_PASSWORD)
    assert response.status_code == 200
    assert GENERIC in response.get_data(as_text=True)


def test_post_without_csrf_token_is_rejected(client, session) -> None:
    user, _ = staff_user(session)
    client.get("/staff/signin")
    response = client.post("/staff/signin", data={"email": user.email, "password": STAFF_PASSWORD})
    assert response.status_code == 400
    assert client.post("/staff/signout").status_code == 400
    assert client.post("/staff/signin/code", data={"code": "123456"}).status_code == 400


def test_wrong_role_gets_403_and_the_attempt_is_audited(client, session, clock) -> None:
    user, secret = staff_user(session, role=Role.TRIAGER)
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    response = client.get("/staff/audit")
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)
    [event] = _events(session, "access.denied")
    assert event.actor_id == user.id
    assert event.outcome == "denied"
    assert event.detail["path"] == "/staff/audit"


def test_staff_layout_links_only_what_the_role_may_use(client, session, clock) -> None:
    admin, secret = staff_user(
        session, email="admin@example.gov", role=Role.ADMIN, jurisdictions=("national",)
    )
    sign_in(client, admin.email, STAFF_PASSWORD, secret)
    text = client.get("/staff/account").get_data(as_text=True)
    assert 'href="/staff/audit"' in text and 'href="/staff/users"' in text
    viewer, secret = staff_user(session, email="v@example.gov", role=Role.VIEWER)
    other = client.application.test_client()
    sign_in(other, viewer.email, STAFF_PASSWORD, secret)
    text = other.get("/staff/account").get_data(as_text=True)
    assert 'href="/staff/audit"' not in text and 'href="/staff/users"' not in text
    assert "v@example.gov" in text


def test_session_cookie_is_httponly_lax_and_not_persistent(client, session, clock) -> None:
    user, secret = staff_user(session)
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    response = client.get("/staff/account")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie


def test_user_row_is_read_through_db_session(session) -> None:
    staff_user(session)
    assert db.session.scalar(select(User.email)) == "ny@example.gov"


def test_the_staff_page_shows_a_locked_account_and_only_the_admins_own_staff(
    app, client, session, clock
) -> None:
    admin, secret = staff_user(session, email="ny.admin@example.gov", role=R.ADMIN)
    victim, _ = staff_user(session, email="victim@example.gov")
    staff_user(session, email="nj.triager@example.gov", jurisdictions=("NJ",))
    staff_user(session, email="both@example.gov", jurisdictions=("NJ", "NY"))
    for _ in range(5):
        _password_step(app.test_client(), victim.email, "wrong password number x")
    sign_in(client, admin.email, STAFF_PASSWORD, secret)
    page = client.get("/staff/users").get_data(as_text=True)
    assert "victim@example.gov" in page and "both@example.gov" in page
    assert "nj.triager@example.gov" not in page  # another state's staff
    row = page[page.index("victim@example.gov") :].split("</tr>", 1)[0]
    assert ">locked<" in row
