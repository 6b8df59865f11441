"""The poster desk shows a burst of tips at a poster: a badge on its row, a card on its page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.posters.conftest import Network
from tests.posters.test_desk import NOW, signed_in, text_of
from tipline.accounts.models import Role
from tipline.locations.codes import display


@pytest.fixture
def admin(app: Flask, session: Session) -> FlaskClient:
    """An admin's browser, with the app's clock stopped at NOW."""
    app.config["CLOCK"] = lambda: NOW
    return signed_in(app, session, Role.ADMIN, "admin@example.gov")


def burst_tips(session: Session, network: Network, *ages: timedelta, flagged: bool = True) -> None:
    poster = network.nyp[0]
    for age in ages:
        factories.tip(
            session,
            placement_id=poster.id,
            placement_code=poster.code,
            received_at=NOW - age,
            in_burst=flagged,
        )
    session.commit()


def test_the_desk_row_shows_the_last_weeks_burst(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    burst_tips(session, network, timedelta(minutes=5), timedelta(minutes=3), timedelta(days=8))
    burst_tips(session, network, timedelta(minutes=1), flagged=False)
    html = admin.get("/staff/posters").get_data(as_text=True)
    code = network.nyp[0].code
    row = re.search(rf"<tr>\s*<td><a[^>]*>{display(code)}</a>.*?</tr>", html, re.S)[0]
    assert "burst: 2</a>" in row  # the 8-day-old one is outside the 7 days shown
    assert f"placement={code}&amp;status=all" in row
    other = network.nyp[1].code
    calm = re.search(rf"<tr>\s*<td><a[^>]*>{display(other)}</a>.*?</tr>", html, re.S)[0]
    assert "burst" not in calm


def test_the_placement_page_explains_the_burst(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    code = network.nyp[0].code
    quiet = text_of(admin.get(f"/staff/posters/{code}").get_data(as_text=True))
    assert "Burst of tips" not in quiet
    burst_tips(session, network, timedelta(minutes=9), timedelta(minutes=2))
    text = text_of(admin.get(f"/staff/posters/{code}").get_data(as_text=True))
    assert "Burst of tips" in text
    assert (
        "2 tips arrived while this poster was over its burst threshold (30 tips in 10 min)" in text
    )
    assert "from 2026-11-28 13:51 to 2026-11-28 13:58 UTC" in text
