"""Staff of several roles and jurisdictions, signed-in clients, and a clock the tests set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import Clock, csrf_token
from tipline.accounts.models import AuditEvent, Role, User

NOW = datetime(2026, 6, 15, 14, 0, 5, tzinfo=UTC)


@pytest.fixture
def clock(app: Flask) -> Clock:
    """The app's clock, fixed at NOW."""
    fixed = Clock(NOW)
    app.config["CLOCK"] = fixed
    return fixed


@dataclass
class Staff:
    """A staff member and how to sign them in."""

    user: User
    secret: str

    @property
    def email(self) -> str:
        return self.user.email


# name: (role, jurisdictions)
PEOPLE: dict[str, tuple[Role, tuple[str, ...]]] = {
    "ny_triager": (Role.TRIAGER, ("NY",)),
    "ny_admin": (Role.ADMIN, ("NY",)),
    "ny_viewer": (Role.VIEWER, ("NY",)),
    "nj_triager": (Role.TRIAGER, ("NJ",)),
    "nynj_triager": (Role.TRIAGER, ("NJ", "NY")),
    "national_triager": (Role.TRIAGER, ("national",)),
    "national_viewer": (Role.VIEWER, ("national",)),
}


@pytest.fixture
def staff(session: Session) -> Callable[[str], Staff]:
    """make(name) -> that staff member (created once per test; see PEOPLE)."""
    made: dict[str, Staff] = {}

    def make(name: str) -> Staff:
        if name not in made:
            role, codes = PEOPLE[name]
            user, secret = factories.staff_user(
                session,
                email=f"{name.replace('_', '.')}@example.gov",
                role=role,
                jurisdictions=codes,
            )
            made[name] = Staff(user, secret)
        return made[name]

    return make


@pytest.fixture
def login(app: Flask, clock: Clock, staff: Callable[[str], Staff]) -> Callable[[str], FlaskClient]:
    """login(name) -> a test client signed in as that staff member (password and TOTP)."""

    def sign_in(name: str) -> FlaskClient:
        person = staff(name)
        client = app.test_client()
        factories.sign_in(client, person.email, factories.STAFF_PASSWORD, person.secret)
        return client

    return sign_in


def post_form(
    client: FlaskClient, page_url: str, action_url: str, data: dict[str, object]
) -> tuple[int, str]:
    """POST `data` with the CSRF token of the page at `page_url`; (status, body)."""
    page = client.get(page_url)
    token = csrf_token(page.get_data(as_text=True))
    response = client.post(action_url, data={"csrf_token": token, **data})
    return response.status_code, response.get_data(as_text=True)


def reread(session: Session) -> Session:
    """The session with a fresh snapshot: rows written by requests and commands show."""
    session.commit()
    session.expire_all()
    return session


def audit_events(session: Session, action: str) -> list[AuditEvent]:
    """Audit records of one action, oldest first (read fresh from the database)."""
    # Ending the transaction drops its snapshot: what other connections committed shows.
    session.commit()
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(session.scalars(query))
