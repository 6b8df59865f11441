"""Admins manage staff on the web: invite, change, disable, enable, reset, within their scope."""

from __future__ import annotations

import re
import unicodedata

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Clock, csrf_token
from tests.factories import STAFF_PASSWORD, sign_in, staff_user
from tests.triage.alerts.conftest import Mailbox
from tipline.accounts import users
from tipline.accounts.models import AuditEvent, Role, StaffSession, User

LINK = re.compile(r'<code id="setup-link">([^<]+)</code>')


def _admin(client: FlaskClient, session: Session, codes: tuple[str, ...]) -> User:
    user, secret = staff_user(
        session,
        email=f"admin.{'.'.join(codes).lower()}@example.gov",
        role=Role.ADMIN,
        jurisdictions=codes,
    )
    sign_in(client, user.email, STAFF_PASSWORD, secret)
    return user


def _post(client: FlaskClient, page: str, url: str, data: dict[str, object]) -> tuple[int, str]:
    token = csrf_token(client.get(page).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, **data})
    return response.status_code, response.get_data(as_text=True)


def _invite(client: FlaskClient, email: str, role: str, *codes: str) -> tuple[int, str]:
    data = {"email": email, "role": role, "jurisdictions": list(codes)}
    return _post(client, "/staff/users/new", "/staff/users/new", data)


def _events(session: Session, action: str) -> list[AuditEvent]:
    session.commit()
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(session.scalars(query))


def test_a_state_admin_invites_within_their_state_and_sees_the_link_once(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    admin = _admin(client, session, ("NY",))
    status, page = _invite(client, "New.Triager@Example.gov", "triager", "NY")
    assert status == 200, page
    (link,) = LINK.findall(page)
    assert "/staff/setup/" in link and "shown only this once" in page
    assert "No mail server is set" in page
    session.expire_all()
    made = users.get_user(session, "new.triager@example.gov")
    assert made.role is Role.TRIAGER and made.jurisdiction_codes() == {"NY"}
    assert link.rsplit("/", 1)[1] not in (made.setup_token_hash or "")  # only the hash is kept
    [event] = _events(session, "user.create")
    assert event.actor_id == admin.id and event.detail["jurisdictions"] == ["NY"]
    # The manage page never shows the link again.
    assert link not in client.get(f"/staff/users/{made.id}").get_data(as_text=True)


@pytest.mark.parametrize("codes", [("NJ",), ("NY", "NJ"), ("national",)])
def test_a_state_admin_never_grants_beyond_their_scope(
    client: FlaskClient, session: Session, clock: Clock, codes: tuple[str, ...]
) -> None:
    _admin(client, session, ("NY",))
    status, page = _invite(client, "grab@example.gov", "admin", *codes)
    assert status == 200 and LINK.findall(page) == []
    assert "not a valid choice" in page
    # Even a service call that bypasses the form is refused.
    admin = users.get_user(session, "admin.ny@example.gov")
    with pytest.raises(users.BeyondScope):
        users.create_user(
            session,
            email="grab@example.gov",
            role=Role.ADMIN,
            jurisdiction_codes=codes,
            actor=admin,
            now=clock.now,
        )
    session.rollback()
    assert users.find_user(session, "grab@example.gov") is None


def test_a_state_admin_cannot_manage_a_neighbours_staff(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _admin(client, session, ("NY",))
    nj, _ = staff_user(session, email="nj@example.gov", jurisdictions=("NJ",))
    both, _ = staff_user(session, email="both@example.gov", jurisdictions=("NJ", "NY"))
    for target in (nj, both):
        assert client.get(f"/staff/users/{target.id}").status_code == 404
        status, _ = _post(client, "/staff/users", f"/staff/users/{target.id}/disable", {})
        assert status == 404
    session.expire_all()
    assert session.get(User, nj.id).active and session.get(User, both.id).active  # type: ignore[union-attr]
    denied = _events(session, "access.denied")
    assert [e.target for e in denied] == [f"user:{nj.id}"] * 2 + [f"user:{both.id}"] * 2


def test_a_change_disable_and_reset_each_end_the_users_sessions_and_are_audited(
    app: Flask, client: FlaskClient, session: Session, clock: Clock
) -> None:
    _admin(client, session, ("NY", "NJ"))
    user, secret = staff_user(session, email="t@example.gov", jurisdictions=("NY",))
    theirs = app.test_client()

    sign_in(theirs, user.email, STAFF_PASSWORD, secret)
    clock.advance(seconds=31)
    page = f"/staff/users/{user.id}"
    status, _ = _post(client, page, page, {"role": "viewer", "jurisdictions": ["NJ", "NY"]})
    assert status == 302
    assert theirs.get("/staff/account").status_code == 302
    session.expire_all()
    assert session.get(User, user.id).role is Role.VIEWER  # type: ignore[union-attr]

    sign_in(theirs, user.email, STAFF_PASSWORD, secret)
    assert _post(client, page, f"{page}/disable", {})[0] == 302
    assert theirs.get("/staff/account").status_code == 302
    assert _post(client, page, f"{page}/enable", {})[0] == 302

    clock.advance(seconds=31)
    sign_in(theirs, user.email, STAFF_PASSWORD, secret)
    status, body = _post(client, page, f"{page}/reset", {})
    assert status == 200 and len(LINK.findall(body)) == 1
    assert theirs.get("/staff/account").status_code == 302
    session.expire_all()
    assert session.get(User, user.id).password_hash is None  # type: ignore[union-attr]
    ended = session.scalars(select(StaffSession.end_reason).order_by(StaffSession.id)).all()
    assert ended[-3:] == ["changed", "disabled", "reset"]
    for action in ("user.update", "user.disable", "user.enable", "user.reset"):
        [event] = _events(session, action)
        assert event.actor_email == "admin.ny.nj@example.gov", action


def test_the_last_national_admin_cannot_lock_themselves_out(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    me = _admin(client, session, ("national",))
    page = f"/staff/users/{me.id}"
    status, body = _post(client, page, page, {"role": "triager", "jurisdictions": ["national"]})
    assert status == 200 and "last active national admin" in body
    status, body = _post(client, page, page, {"role": "admin", "jurisdictions": ["NY"]})
    assert "last active national admin" in body
    _post(client, page, f"{page}/disable", {})
    assert "last active national admin" in client.get(page).get_data(as_text=True)
    session.expire_all()
    me = session.get(User, me.id)  # type: ignore[assignment]
    assert me.active and me.role is Role.ADMIN and me.is_national
    # With a second national admin, stepping down is allowed.
    staff_user(session, email="deputy@example.gov", role=Role.ADMIN, jurisdictions=("national",))
    status, _ = _post(client, page, page, {"role": "viewer", "jurisdictions": ["national"]})
    assert status == 302


def test_the_last_national_admin_cannot_reset_themselves(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    me = _admin(client, session, ("national",))
    page = f"/staff/users/{me.id}"
    status, body = _post(client, page, f"{page}/reset", {})
    assert status == 302 and not LINK.findall(body)
    shown = client.get(page).get_data(as_text=True)
    assert "is the last active national admin: make another national admin first" in shown
    session.expire_all()
    me = session.get(User, me.id)  # type: ignore[assignment]
    assert me.password_hash is not None and me.totp_secret is not None
    assert not _events(session, "user.reset")
    # A second national admin still waiting for set-up cannot manage anyone yet: still refused.
    users.create_user(
        session,
        email="pending@example.gov",
        role=Role.ADMIN,
        jurisdiction_codes=["national"],
        actor=None,
        now=clock.now,
    )
    session.commit()
    status, body = _post(client, page, f"{page}/reset", {})
    assert status == 302 and "last active national admin" in client.get(page).get_data(as_text=True)
    # With a second national admin who can sign in, resetting oneself is allowed.
    staff_user(session, email="deputy@example.gov", role=Role.ADMIN, jurisdictions=("national",))
    status, body = _post(client, page, f"{page}/reset", {})
    assert status == 200 and len(LINK.findall(body)) == 1


def test_the_set_up_link_is_emailed_when_smtp_is_set(
    client: FlaskClient, session: Session, clock: Clock, mailbox: Mailbox
) -> None:
    _admin(client, session, ("NY",))
    status, page = _invite(client, "mailed@example.gov", "viewer", "NY")
    assert status == 200 and "was emailed to mailed@example.gov" in page
    (link,) = LINK.findall(page)
    [mail] = mailbox.to("mailed@example.gov")
    assert link in mail.get_content()


def test_the_cli_keeps_the_last_national_admin_too(runner, session: Session) -> None:  # type: ignore[no-untyped-def]
    from tipline.cli import main

    staff_user(session, email="boss@example.gov", role=Role.ADMIN, jurisdictions=("national",))
    result = runner.invoke(main, args=["users", "disable", "boss@example.gov"])
    assert result.exit_code == 2 and "last active national admin" in result.output
    result = runner.invoke(main, args=["users", "set", "boss@example.gov", "--role", "viewer"])
    assert result.exit_code == 2 and "last active national admin" in result.output
    result = runner.invoke(main, args=["users", "reset", "boss@example.gov"])
    assert result.exit_code == 2 and "last active national admin" in result.output
    session.expire_all()
    boss = users.get_user(session, "boss@example.gov")
    assert boss.active and boss.password_hash is not None and boss.setup_token_hash is None


def test_a_national_admin_still_in_set_up_may_get_a_fresh_link(runner, session: Session) -> None:  # type: ignore[no-untyped-def]
    from tipline.cli import main

    created = runner.invoke(
        main,
        args=[
            "users",
            "create",
            "--email",
            "first@example.gov",
            "--role",
            "admin",
            "--jurisdiction",
            "national",
        ],
    )
    assert created.exit_code == 0, created.output
    result = runner.invoke(main, args=["users", "reset", "first@example.gov"])
    assert result.exit_code == 0 and "/staff/setup/" in result.output


def test_times_show_in_the_tips_zone_and_the_users_own_where_it_differs(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    from tests import factories

    admin = _admin(client, session, ("NY",))
    tip = factories.tip(session)  # New York Penn, 12:00 UTC
    session.commit()
    page = client.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    assert "2026-06-15 08:00 EDT" in page and "yours" not in page
    status, _ = _post(client, "/staff/account", "/staff/account", {"timezone": "America/Chicago"})
    assert status == 302
    page = client.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    assert "2026-06-15 08:00 EDT · 07:00 CDT yours" in page
    assert "08:00 EDT · 07:00 CDT yours" in client.get("/staff/?status=all").get_data(as_text=True)
    [event] = _events(session, "user.timezone")
    assert event.actor_id == admin.id and event.detail == {"timezone": "America/Chicago"}
    # Exports stay ISO 8601 with the offset.
    assert "2026-06-15T12:00:00+00:00" in client.get("/staff/export.json?status=all").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    "hidden", ["\u200b", "\u202e", "\u00ad", "\u2060", "\ufeff", "\x07", "\u00a0", "\u3000", "\t"]
)
def test_an_invite_with_an_invisible_character_is_refused(
    client: FlaskClient, session: Session, clock: Clock, hidden: str
) -> None:
    _admin(client, session, ("NY",))
    staff_user(session, email="njadmin@x.invalid", role=Role.ADMIN, jurisdictions=("NJ",))
    status, page = _invite(client, f"njad{hidden}min@x.invalid", "viewer", "NY")
    assert status == 200 and not LINK.findall(page)
    shown = unicodedata.normalize("NFKC", hidden)  # a no-break space is a space
    assert "invisible or space characters" in page and f"U+{ord(shown):04X}" in page
    # At either end, spaces are trimmed (the address exists already); the rest are refused.
    status, page = _invite(client, f"njadmin@x.invalid{hidden}", "viewer", "NY")
    assert "invisible or space characters" in page or "exists already" in page
    assert not LINK.findall(page)
    session.expire_all()
    assert len(users.list_users(session)) == 2
    assert not _events(session, "user.create")


def test_emails_are_normalised_alike_on_every_path(runner, session: Session) -> None:  # type: ignore[no-untyped-def]
    from tipline.cli import main

    # Full-width letters (an IME's) are the same address as the plain ones.
    assert users.normalize_email(" ＮＹ.Admin@Example.gov ") == "ny.admin@example.gov"
    result = runner.invoke(
        main,
        args=[
            "users",
            "create",
            "--email",
            "ＮＹ@example.gov",
            "--role",
            "viewer",
            "--jurisdiction",
            "NY",
        ],
    )
    assert result.exit_code == 0 and "created ny@example.gov" in result.output
    result = runner.invoke(
        main,
        args=[
            "users",
            "create",
            "--email",
            "ny@example.gov\u200b",
            "--role",
            "viewer",
            "--jurisdiction",
            "NY",
        ],
    )
    assert result.exit_code == 2 and "invisible or space characters (U+200B)" in result.output
    assert [u.email for u in users.list_users(session)] == ["ny@example.gov"]
    with pytest.raises(users.InvalidEmail, match=r"U\+202E"):
        users.normalize_email("ny\u202e@example.gov")
