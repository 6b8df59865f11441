"""Intake fixtures: posters at a station and on a train, an app factory with settings, and
helpers to read pages the way a traveler sees them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import make_test_app, wipe
from tipline.db import Database
from tipline.locations.models import Placement


def hms(hours: int, minutes: int = 0) -> int:
    """GTFS seconds from the service day's time zero."""
    return hours * 3600 + minutes * 60


@dataclass
class Posters:
    """Codes of the posters every intake test can use."""

    station: str
    train: str
    retired: str


@pytest.fixture
def posters(session: Session) -> Posters:
    """A poster in New York Penn's restroom, one in car 3 of train 66 (overnight, crossing
    midnight), and a retired one; committed so a live server sees them."""
    nyp = factories.station(session)
    nwk = factories.station(session, **factories.NWK)
    phl = factories.station(session, **factories.PHL)
    train = factories.train(
        session,
        number="66",
        stops=[(nyp, None, hms(23, 30)), (nwk, hms(24, 40), hms(24, 42)), (phl, hms(25, 10), None)],
    )
    at_station = factories.placement(session, station=nyp)
    on_train = factories.placement(session, train=train, spot="Car 3 vestibule")
    retired = factories.placement(session, station=nyp, spot="Platform 7 stairs")
    retired.active = False
    session.commit()
    return Posters(at_station.code, on_train.code, retired.code)


@pytest.fixture
def make_app(_migrated: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build an app on the test database with extra settings (SCAN_FLUSH_SECONDS, limits)."""
    apps: list[Flask] = []

    def make(**settings: object) -> Flask:
        app = make_test_app(_migrated, tmp_path / f"instance-{len(apps)}", **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        wipe(app)
        Database.engine(app).dispose()


def placement(session: Session, code: str) -> Placement:
    """A placement by code, from the database."""
    return session.query(Placement).filter_by(code=code).one()


TOKEN_RE = re.compile(r'name="token" value="([^"]+)"')


def form_token(html: str) -> str:
    """The traveler form's signed token."""
    match = TOKEN_RE.search(html)
    assert match, "no form token in page"
    return match.group(1)


def post_tip(
    client: FlaskClient, path: str, token: str | None = None, **fields: object
) -> tuple[int, str]:
    """Open the form at `path` (unless a token is given) and send `fields`; (status, page)."""
    if token is None:
        token = form_token(client.get(path).get_data(as_text=True))
    data = {"token": token, **fields}
    response = client.post(path, data=data)
    return response.status_code, response.get_data(as_text=True)


RECEIPT_RE = re.compile(r'class="code">([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})<')


def receipt_in(html: str) -> str:
    """The receipt code shown on a thank-you page."""
    match = RECEIPT_RE.search(html)
    assert match, "no receipt code in page"
    return match.group(1)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def text_of(html: str) -> str:
    """The page's visible text with entities decoded and spaces collapsed."""
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())
