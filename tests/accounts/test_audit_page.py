"""The admins' audit page: read-only, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.factories import STAFF_PASSWORD, sign_in, staff_user
from tipline.accounts.audit import record
from tipline.accounts.models import Role


def _admin(client, session):
    admin, secret = staff_user(
        session, email="admin@example.gov", role=Role.ADMIN, jurisdictions=("national",)
    )
    sign_in(client, admin.email, STAFF_PASSWORD, secret)
    return admin


def _rows(html: str) -> int:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr>")


def test_only_admins_see_the_audit_page(client, session, clock) -> None:
    for role in (Role.TRIAGER, Role.VIEWER):
        user, secret = staff_user(session, email=f"{role}@example.gov", role=role)
        other = client.application.test_client()
        sign_in(other, user.email, STAFF_PASSWORD, secret)
        assert other.get("/staff/audit").status_code == 403
        assert other.get("/staff/users").status_code == 403
    _admin(client, session)
    page = client.get("/staff/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "access.denied" in text and "signin.success" in text
    assert "<form" in text and 'method="post"' not in text.split("<main", 1)[1]


def test_filters_and_pagination(client, session, clock) -> None:
    admin = _admin(client, session)
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    for i in range(60):
        record(
            session,
            action="tip.view",
            actor=admin,
            now=base + timedelta(minutes=i),
            target=f"tip:{i % 3}",
        )
    record(
        session,
        action="tip.update",
        actor=None,
        now=base - timedelta(days=2),
        target="tip:1",
        outcome="failed",
        detail={"field": "priority"},
    )
    session.commit()

    text = client.get("/staff/audit?action=tip.view").get_data(as_text=True)
    assert "60 records, page 1 of 2" in text
    assert _rows(text) == 50
    assert "2026-11-01 12:59:00" in text  # newest first
    page2 = client.get("/staff/audit?action=tip.view&page=2").get_data(as_text=True)
    assert _rows(page2) == 10 and "2026-11-01 12:00:00" in page2
    assert "action=tip.view" in page2 and "page=1" in page2

    assert "20 records" in client.get("/staff/audit?target=tip:2").get_data(as_text=True)
    assert "61 records" in client.get("/staff/audit?action=tip.").get_data(as_text=True)
    failed = client.get("/staff/audit?outcome=failed").get_data(as_text=True)
    assert "1 record," in failed or "1 record." in failed
    assert "priority" in failed
    dated = client.get("/staff/audit?since=2026-10-30&until=2026-10-30").get_data(as_text=True)
    assert "1 record." in dated and "tip.update" in dated
    mine = client.get("/staff/audit?actor=ADMIN@").get_data(as_text=True)
    assert "6" in mine and "records" in mine
    assert "No audit records match." in client.get("/staff/audit?actor=nobody").get_data(
        as_text=True
    )
    assert client.get("/staff/audit?since=not-a-date").status_code == 400
