"""The shared checks other staff views build on: can_see, staff_required, refuse, safe_next."""

from __future__ import annotations

from sqlalchemy import select

from tests.factories import STAFF_PASSWORD, sign_in, staff_user
from tipline.accounts.access import can_see
from tipline.accounts.auth import current_user, refuse, safe_next, staff_required
from tipline.accounts.models import AuditEvent, Role, User, UserJurisdiction


def _user(*codes: str) -> User:
    user = User(email="x@example.gov", role=Role.VIEWER)
    user.jurisdictions = [UserJurisdiction(code=c) for c in codes]
    return user


def test_can_see_by_jurisdiction() -> None:
    ny_nj = _user("NY", "NJ")
    assert can_see(ny_nj, ["NJ"])
    assert can_see(ny_nj, ["PA", "NY"])
    assert not can_see(ny_nj, ["PA"])
    assert not can_see(ny_nj, [])
    assert not can_see(ny_nj, [None])
    assert can_see(_user("national"), ["QC"])
    assert can_see(_user("national"), [])
    assert not can_see(None, ["NY"])


def test_safe_next_allows_only_local_paths() -> None:
    assert safe_next("/staff/tips/4?x=1") == "/staff/tips/4?x=1"
    for bad in (
        None,
        "",
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "staff",
        "javascript:alert(1)",
    ):
        assert safe_next(bad) is None, bad


def test_refuse_records_and_answers_with_the_given_status(app, client, session, clock) -> None:
    @staff_required(Role.TRIAGER, Role.ADMIN)
    def secret_tip(tip_id: int) -> str:
        user = current_user()
        assert user is not None
        if not can_see(user, ["NJ"]):
            refuse(target=f"tip:{tip_id}", status=404)
        return "the tip"

    app.add_url_rule("/staff/test-tip/<int:tip_id>", view_func=secret_tip)
    ny, secret = staff_user(session)
    viewer, viewer_secret = staff_user(
        session, email="v@example.gov", role=Role.VIEWER, jurisdictions=("NJ",)
    )
    nj, nj_secret = staff_user(session, email="nj@example.gov", jurisdictions=("NJ",))

    anonymous = client.get("/staff/test-tip/7")
    assert anonymous.headers["Location"] == "/staff/signin?next=/staff/test-tip/7"

    sign_in(client, ny.email, STAFF_PASSWORD, secret)
    response = client.get("/staff/test-tip/7?q=secret+words")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)
    assert "the tip" not in response.get_data(as_text=True)

    other = app.test_client()
    sign_in(other, viewer.email, STAFF_PASSWORD, viewer_secret)
    assert other.get("/staff/test-tip/7").status_code == 403

    third = app.test_client()
    sign_in(third, nj.email, STAFF_PASSWORD, nj_secret)
    assert third.get("/staff/test-tip/7").get_data(as_text=True) == "the tip"

    session.expire_all()
    denied = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.denied").order_by(AuditEvent.id)
    ).all()
    assert [(e.actor_id, e.target, e.outcome) for e in denied] == [
        (ny.id, "tip:7", "denied"),
        (viewer.id, None, "denied"),
    ]
    assert denied[0].detail == {"method": "GET", "path": "/staff/test-tip/7"}
    assert denied[1].detail["needs"] == ["admin", "triager"]
