"""The permission matrix: every /staff URL x role x jurisdiction -> allowed, or refused.

The table below names every /staff rule of the app with who may use it. A rule added without a
row fails `test_every_staff_rule_is_in_the_matrix`, so no page ships without a decision.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests import factories
from tests.conftest import csrf_token
from tipline.accounts.models import AuditEvent, Role
from tipline.followup.models import TipPhoto
from tipline.intake.models import Tip
from tipline.locations.models import Placement

NOW = datetime(2026, 6, 15, 14, 0, 5, tzinfo=UTC)
# Words only the New Jersey tip carries: a New York user's pages must never show them.
NJ_MARKER = "Zzyzx"
NY_MARKER = "Quokka"


class Access(enum.Enum):
    """Who a rule is for."""

    PUBLIC = "anyone: the way in and out"
    STAFF = "every signed-in role"
    ACTING = "admins and triagers"
    ADMIN = "admins"


ALLOWED = {
    Access.STAFF: {Role.ADMIN, Role.TRIAGER, Role.VIEWER},
    Access.ACTING: {Role.ADMIN, Role.TRIAGER},
    Access.ADMIN: {Role.ADMIN},
}

# The tip actions, each with fields that pass its form (the form's prefix is the action).
TIP_ACTIONS: dict[str, dict[str, str]] = {
    "acknowledge": {},
    "investigate": {"investigate-reason": "matrix"},
    "assign": {"assign-assignee": "0"},
    "priority": {"priority-priority": "2", "priority-reason": "matrix"},
    "note": {"note-text": "matrix note"},
    "refer": {"refer-to": "Amtrak Police", "refer-reference": "M-1"},
    "close": {"close-resolution": "no_action"},
    "reopen": {"reopen-reason": "matrix"},
}


@dataclass(frozen=True)
class Call:
    """One request a rule is tried with: a URL template and, for a POST, its fields."""

    url: str  # {tip}: the tip's id; {code}: a placement's code; {station}: its station;
    # {user}: a staff member of that jurisdiction
    data: dict[str, str] | None = None
    csrf_prefix: str = ""


@dataclass(frozen=True)
class Expect:
    """A rule's row: who may use it, whether a tip's jurisdiction limits it, what success is."""

    access: Access
    calls: tuple[Call, ...]
    per_tip: bool = False  # tried on the New York tip and on the New Jersey one
    per_poster: bool = False  # tried on the New York poster and on the New Jersey one
    per_user: bool = False  # tried on a New York staff member and on a New Jersey one
    ok: frozenset[int] = field(default_factory=lambda: frozenset({200}))


MATRIX: dict[tuple[str, str], Expect] = {
    # -- the way in and out: open to anyone, tested by the accounts suite
    ("/staff/signin", "GET"): Expect(Access.PUBLIC, (Call("/staff/signin"),)),
    ("/staff/signin", "POST"): Expect(
        Access.PUBLIC, (Call("/staff/signin", {"email": "x@example.gov", "password": "wrong"}),)
    ),
    ("/staff/signin/code", "GET"): Expect(Access.PUBLIC, (Call("/staff/signin/code"),)),
    ("/staff/signin/code", "POST"): Expect(
        Access.PUBLIC, (Call("/staff/signin/code", {"code": "000000"}),)
    ),
    ("/staff/setup/<token>", "GET"): Expect(Access.PUBLIC, (Call("/staff/setup/not-a-token"),)),
    ("/staff/setup/<token>", "POST"): Expect(
        Access.PUBLIC, (Call("/staff/setup/not-a-token", {"password": "x", "code": "1"}),)
    ),
    ("/staff/signout", "POST"): Expect(Access.PUBLIC, (Call("/staff/signout", {}),)),
    # -- every signed-in role
    ("/staff/", "GET"): Expect(
        Access.STAFF, (Call("/staff/"), Call("/staff/?status=all&jurisdiction=NJ"))
    ),
    ("/staff/account", "GET"): Expect(Access.STAFF, (Call("/staff/account"),)),
    ("/staff/account", "POST"): Expect(
        Access.STAFF,
        (Call("/staff/account", {"timezone": "America/Chicago"}),),
        ok=frozenset({302}),
    ),
    ("/staff/tips/<int:tip_id>", "GET"): Expect(
        Access.STAFF, (Call("/staff/tips/{tip}"),), per_tip=True
    ),
    ("/staff/tips/<int:tip_id>/photos/<int:photo_id>", "GET"): Expect(
        Access.STAFF, (Call("/staff/tips/{tip}/photos/{photo}"),), per_tip=True
    ),
    # -- admins and triagers
    ("/staff/tips/<int:tip_id>/<action>", "POST"): Expect(
        Access.ACTING,
        tuple(
            Call(f"/staff/tips/{{tip}}/{name}", data, csrf_prefix=f"{name}-")
            for name, data in TIP_ACTIONS.items()
        ),
        per_tip=True,
        # 409: the workflow refuses a step (reopening an open tip); the role and place allowed it.
        ok=frozenset({302, 409}),
    ),
    ("/staff/tips/<int:tip_id>/reply", "POST"): Expect(
        Access.ACTING,
        (Call("/staff/tips/{tip}/reply", {"reply-text": "matrix reply"}, csrf_prefix="reply-"),),
        per_tip=True,
        ok=frozenset({302}),
    ),
    ("/staff/tips/<int:tip_id>/packet", "POST"): Expect(
        Access.ACTING, (Call("/staff/tips/{tip}/packet", {"partner": "Matrix PD"}),), per_tip=True
    ),
    ("/staff/export.<any(csv, json):fmt>", "GET"): Expect(
        Access.ACTING,
        (Call("/staff/export.csv?status=all"), Call("/staff/export.json?status=all&station=NWK")),
    ),
    # -- admins
    ("/staff/users", "GET"): Expect(Access.ADMIN, (Call("/staff/users"),)),
    ("/staff/users/new", "GET"): Expect(Access.ADMIN, (Call("/staff/users/new"),)),
    ("/staff/users/new", "POST"): Expect(
        Access.ADMIN,
        (
            Call(
                "/staff/users/new",
                {"email": "m@example.gov", "role": "viewer", "jurisdictions": "NY"},
            ),
        ),
    ),
    # -- admins, and only for staff wholly within their own jurisdictions (national: all)
    ("/staff/users/<int:user_id>", "GET"): Expect(
        Access.ADMIN, (Call("/staff/users/{user}"),), per_user=True
    ),
    ("/staff/users/<int:user_id>", "POST"): Expect(
        Access.ADMIN,
        (Call("/staff/users/{user}", {"role": "viewer", "jurisdictions": "{state}"}),),
        per_user=True,
        ok=frozenset({302}),
    ),
    ("/staff/users/<int:user_id>/<any(disable, enable, reset):action>", "POST"): Expect(
        Access.ADMIN,
        tuple(Call(f"/staff/users/{{user}}/{a}", {}) for a in ("disable", "enable", "reset")),
        per_user=True,
        ok=frozenset({200, 302}),
    ),
    ("/staff/audit", "GET"): Expect(Access.ADMIN, (Call("/staff/audit"),)),
    ("/staff/alerts", "GET"): Expect(Access.ADMIN, (Call("/staff/alerts"),)),
    ("/staff/posters", "GET"): Expect(Access.ADMIN, (Call("/staff/posters?show=all"),)),
    ("/staff/posters/new", "GET"): Expect(Access.ADMIN, (Call("/staff/posters/new"),)),
    ("/staff/posters/new", "POST"): Expect(
        Access.ADMIN,
        (
            Call(
                "/staff/posters/new",
                {"kind": "station", "place": "NYP", "spot": "Matrix", "lang": "en"},
            ),
        ),
        ok=frozenset({302}),
    ),
    # -- admins, and only for the posters of their own jurisdictions (national: all)
    ("/staff/posters/<code>", "GET"): Expect(
        Access.ADMIN, (Call("/staff/posters/{code}"),), per_poster=True
    ),
    ("/staff/posters/<code>/retire", "GET"): Expect(
        Access.ADMIN, (Call("/staff/posters/{code}/retire"),), per_poster=True
    ),
    ("/staff/posters/<code>/retire", "POST"): Expect(
        Access.ADMIN,
        (Call("/staff/posters/{code}/retire", {}),),
        per_poster=True,
        ok=frozenset({302}),
    ),
    ("/staff/posters/download", "GET"): Expect(
        Access.ADMIN,
        (
            Call("/staff/posters/download?placement={code}"),
            Call("/staff/posters/download?station={station}"),
        ),
        per_poster=True,
    ),
    ("/staff/posters/preview", "GET"): Expect(
        Access.ADMIN,
        (Call("/staff/posters/preview?placement={code}&size=sticker"),),
        per_poster=True,
    ),
}

# name: (role, jurisdictions); None is a visitor who has not signed in.
PERSONAS: dict[str, tuple[Role, tuple[str, ...]] | None] = {
    "anonymous": None,
    "ny_viewer": (Role.VIEWER, ("NY",)),
    "ny_triager": (Role.TRIAGER, ("NY",)),
    "ny_admin": (Role.ADMIN, ("NY",)),
    "national_viewer": (Role.VIEWER, ("national",)),
    "national_triager": (Role.TRIAGER, ("national",)),
    "national_admin": (Role.ADMIN, ("national",)),
}
# Not in the matrix run: a third state's admin for the cross-state poster test.
OTHER_PERSONAS = {"ca_admin": (Role.ADMIN, ("CA",))}


def staff_rules(app: Flask) -> set[tuple[str, str]]:
    """Every (rule, method) the app serves under /staff."""
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/staff")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


@dataclass
class World:
    """A New York tip and poster, a New Jersey tip and poster, committed."""

    ny_tip: int
    nj_tip: int
    code: str
    nj_code: str
    ny_photo: int
    nj_photo: int
    ny_user: int
    nj_user: int


@pytest.fixture
def world(app: Flask, session: Session) -> World:
    """The data every persona tries the rules on, with the app's clock fixed."""
    app.config["CLOCK"] = lambda: NOW
    nyp = factories.station(session)
    placement = factories.placement(session, station=nyp, spot="Main concourse")
    nwk = factories.station(session, **{**factories.NWK, "name": f"{NJ_MARKER} Newark Penn"})
    nj_poster = factories.placement(session, station=nwk, spot=f"{NJ_MARKER} concourse")
    # New Jersey staff: a New York admin's staff list must not show them.
    nj_user, _ = factories.staff_user(
        session, email=f"{NJ_MARKER}.triager@example.gov", jurisdictions=("NJ",)
    )
    ny_user, _ = factories.staff_user(session, email="ny.staff@example.gov", jurisdictions=("NY",))
    ny = factories.tip(session, jurisdictions=("NY",), details=f"{NY_MARKER} on the platform")
    nj = factories.tip(
        session,
        jurisdictions=("NJ",),
        station_code="NWK",
        station_name=f"{NJ_MARKER} Newark",
        state="NJ",
        spot=f"{NJ_MARKER} restroom",
        details=f"{NJ_MARKER} details",
        descriptions=f"{NJ_MARKER} people",
    )
    session.flush()
    # Each photo carries its tip's marker, so a photo shown to the wrong place is caught too.
    photos = [
        TipPhoto(
            tip_id=tip.id,
            at=NOW,
            content_type="image/png",
            width=1,
            height=1,
            data=b"\x89PNG " + marker.encode(),
        )
        for tip, marker in ((ny, NY_MARKER), (nj, NJ_MARKER))
    ]
    session.add_all(photos)
    session.commit()
    return World(
        ny_tip=ny.id,
        nj_tip=nj.id,
        code=placement.code,
        nj_code=nj_poster.code,
        ny_photo=photos[0].id,
        nj_photo=photos[1].id,
        ny_user=ny_user.id,
        nj_user=nj_user.id,
    )


def sign_in_as(app: Flask, session: Session, name: str) -> tuple[FlaskClient, set[str]]:
    """A browser for persona `name`, and the jurisdictions it sees ({} when anonymous)."""
    browser = app.test_client()
    persona = PERSONAS[name] if name in PERSONAS else OTHER_PERSONAS[name]
    if persona is None:
        return browser, set()
    role, codes = persona
    user, secret = factories.staff_user(
        session, email=f"{name}@example.gov", role=role, jurisdictions=codes
    )
    factories.sign_in(browser, user.email, factories.STAFF_PASSWORD, secret)
    return browser, set(codes)


@dataclass(frozen=True)
class Attempt:
    """One request of the matrix and what must come of it."""

    method: str
    url: str
    data: dict[str, str] | None
    expected: str  # "ok", "signin", "403", "404", "public"
    ok: frozenset[int]
    tip: str | None = None  # "NY" | "NJ" for per-tip rules


def attempts(role: Role | None, codes: set[str], world: World) -> Iterator[Attempt]:
    """Every row of the matrix as concrete requests for one persona: reads first, then writes
    (a retired poster no longer prints), the sign-out last."""
    rows = sorted(
        MATRIX.items(), key=lambda kv: (kv[0][1] != "GET", kv[0] == ("/staff/signout", "POST"))
    )
    ny_extra = dict(photo=world.ny_photo, user=world.ny_user)
    nj_extra = dict(photo=world.nj_photo, user=world.nj_user)
    for (_rule, method), expect in rows:
        places = [
            ("NY", dict(tip=world.ny_tip, code=world.code, station="NYP", **ny_extra)),
            ("NJ", dict(tip=world.nj_tip, code=world.nj_code, station="NWK", **nj_extra)),
        ]
        if not (expect.per_tip or expect.per_poster or expect.per_user):
            places = [(None, places[0][1])]
        for which, place in places:
            for call in expect.calls:
                url = call.url.format(**place)
                data = call.data
                if data is not None:
                    data = {k: v.format(state=which) for k, v in data.items()}
                    data = {**data, f"{call.csrf_prefix}csrf_token": "{csrf}"}
                if expect.access is Access.PUBLIC:
                    expected = "public"
                elif role is None:
                    expected = "signin"
                elif role not in ALLOWED[expect.access]:
                    expected = "403"
                elif which == "NJ" and not ({"NJ", "national"} & codes):
                    expected = "404"
                else:
                    expected = "ok"
                tip = which if expect.per_tip else None
                yield Attempt(method, url, data, expected, expect.ok, tip)


def test_every_staff_rule_is_in_the_matrix(app: Flask) -> None:
    served = staff_rules(app)
    assert served - MATRIX.keys() == set(), "add these /staff rules to MATRIX with who may use them"
    assert MATRIX.keys() - served == set(), "these MATRIX rows name rules the app no longer has"


@pytest.mark.parametrize("name", list(PERSONAS))
def test_the_matrix(app: Flask, session: Session, world: World, name: str) -> None:
    browser, codes = sign_in_as(app, session, name)
    persona = PERSONAS[name]
    role = persona[0] if persona else None
    page = "/staff/account" if role else "/staff/signin"
    token = csrf_token(browser.get(page).get_data(as_text=True))
    refused: list[tuple[str, str]] = []
    seen_nj = False

    for attempt in attempts(role, codes, world):
        data = (
            None
            if attempt.data is None
            else {k: (token if v == "{csrf}" else v) for k, v in attempt.data.items()}
        )
        response = browser.open(attempt.url, method=attempt.method, data=data)
        where = f"{name}: {attempt.method} {attempt.url} (expected {attempt.expected})"
        body = response.get_data()  # bytes: the posters are PDFs
        assert response.status_code < 500, where
        if attempt.expected == "signin":
            assert response.status_code == 302, where
            assert response.headers["Location"].startswith("/staff/signin"), where
        elif attempt.expected in ("403", "404"):
            assert response.status_code == int(attempt.expected), where
            refused.append((attempt.method, attempt.url.split("?")[0]))
        elif attempt.expected == "ok":
            assert response.status_code in attempt.ok, f"{where}: got {response.status_code}"
        if not ({"NJ", "national"} & codes):
            assert NJ_MARKER.encode() not in body, f"{where}: New Jersey's tip leaked"
        seen_nj = seen_nj or (NJ_MARKER.encode() in body and response.status_code == 200)
        if attempt.method == "GET" and attempt.expected == "ok" and attempt.tip == "NY":
            assert NY_MARKER.encode() in body, where  # the tip page shows what the traveler wrote

    # Each refusal is in the audit log, in order, with who asked and for what.
    session.expire_all()
    denied = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.denied").order_by(AuditEvent.id)
    ).all()
    assert [(e.detail["method"], e.detail["path"]) for e in denied] == refused
    assert all(e.actor_email == f"{name}@example.gov" and e.outcome == "denied" for e in denied)
    # Those who may see New Jersey's tip do: the leak check above is not vacuous.
    assert seen_nj == bool({"NJ", "national"} & codes)
    if role is not None:
        assert browser.get("/staff/").status_code == 302  # the sign-out, run last, worked


def test_a_new_york_triager_gets_nothing_of_a_new_jersey_tip(
    app: Flask, session: Session, world: World
) -> None:
    browser, _ = sign_in_as(app, session, "ny_triager")
    token = csrf_token(browser.get("/staff/account").get_data(as_text=True))
    nj = world.nj_tip

    page = browser.get(f"/staff/tips/{nj}")
    assert page.status_code == 404
    assert page.get_data(as_text=True) == browser.get("/staff/tips/999999").get_data(as_text=True)
    for action, fields in TIP_ACTIONS.items():
        data = {**fields, f"{action}-csrf_token": token}
        assert browser.post(f"/staff/tips/{nj}/{action}", data=data).status_code == 404, action
    csv = browser.get("/staff/export.csv?status=all&station=NWK")
    assert csv.status_code == 200
    assert csv.get_data(as_text=True).strip().count("\n") == 0  # the header row, nothing else
    assert NJ_MARKER not in browser.get(f"/staff/export.json?status=all&text={NJ_MARKER}").get_data(
        as_text=True
    )
    # Picking New Jersey in the filter is not an option the form offers a New York account.
    assert browser.get("/staff/export.csv?jurisdiction=NJ").status_code == 400
    # Naming the New Jersey tip as the duplicate of a New York one is refused like the page.
    data = {
        "close-resolution": "duplicate",
        "close-duplicate_of": str(nj),
        "close-csrf_token": token,
    }
    assert browser.post(f"/staff/tips/{world.ny_tip}/close", data=data).status_code == 400

    session.expire_all()
    denied = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "access.denied", AuditEvent.target == f"tip:{nj}")
        .order_by(AuditEvent.id)
    ).all()
    assert len(denied) == 1 + len(TIP_ACTIONS) + 1
    assert {e.actor_email for e in denied} == {"ny_triager@example.gov"}
    assert [e.detail.get("path") for e in denied[: 1 + len(TIP_ACTIONS)]] == [
        f"/staff/tips/{nj}",
        *[f"/staff/tips/{nj}/{action}" for action in TIP_ACTIONS],
    ]
    assert denied[-1].detail["via"] == "duplicate_of"
    exports = session.scalars(select(AuditEvent).where(AuditEvent.action == "tip.export")).all()
    assert [e.detail["count"] for e in exports] == [0, 0]
    tip = session.get(Tip, nj)
    assert tip is not None and tip.status == "new" and tip.opened_at is None


def test_every_staff_form_refuses_a_missing_or_forged_csrf_token(
    app: Flask, session: Session, world: World
) -> None:
    browser, _ = sign_in_as(app, session, "national_admin")
    posts = [(rule, expect) for (rule, method), expect in MATRIX.items() if method == "POST"]
    assert posts, "the matrix has POST rules"
    for _rule, expect in posts:
        for call in expect.calls:
            url = call.url.format(
                tip=world.ny_tip,
                code=world.code,
                station="NYP",
                photo=world.ny_photo,
                user=world.ny_user,
            )
            for data in (dict(call.data or {}), {**(call.data or {}), "csrf_token": "forged"}):
                response: TestResponse = browser.post(url, data=data)
                assert response.status_code == 400, f"POST {url} with {data}"
    session.expire_all()
    assert browser.get("/staff/account").status_code == 200  # the sign-out was refused too
    tip = session.get(Tip, world.ny_tip)
    assert tip is not None and tip.status == "new"
    placement = session.scalars(select(Placement).where(Placement.code == world.code)).one()
    assert placement.active
    assert session.scalars(select(Placement).where(Placement.spot == "Matrix")).all() == []


def test_a_new_york_admin_cannot_retire_a_california_poster(app: Flask, session: Session) -> None:
    app.config["CLOCK"] = lambda: NOW
    sac = factories.station(
        session,
        code="SAC",
        name="Sacramento Valley",
        lat=38.58,
        lon=-121.50,
        state="CA",
        tz="America/Los_Angeles",
    )
    poster = factories.placement(session, station=sac, spot="Lobby restroom")
    session.commit()
    browser, _ = sign_in_as(app, session, "ny_admin")
    token = csrf_token(browser.get("/staff/account").get_data(as_text=True))
    response = browser.post(f"/staff/posters/{poster.code}/retire", data={"csrf_token": token})
    assert response.status_code == 404
    assert "Sacramento" not in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Placement, poster.id).active  # type: ignore[union-attr]
    [denied] = session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied"))
    assert (
        denied.target == f"placement:{poster.code}" and denied.actor_email == "ny_admin@example.gov"
    )
    # California's admin can.
    ca, _ = sign_in_as(app, session, "ca_admin")
    token = csrf_token(ca.get("/staff/account").get_data(as_text=True))
    assert (
        ca.post(f"/staff/posters/{poster.code}/retire", data={"csrf_token": token}).status_code
        == 302
    )
    session.expire_all()
    assert not session.get(Placement, poster.id).active  # type: ignore[union-attr]
