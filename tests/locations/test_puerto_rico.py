"""A feed with a station in San Juan: its tips route to PR, and a PR triager sees them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.locations.conftest import write_feed
from tipline.accounts.models import Role
from tipline.intake.models import Tip
from tipline.intake.services import TipAnswers, submit_tip
from tipline.locations.gtfs import import_feed
from tipline.locations.models import Station
from tipline.locations.services import add_placement, find_placement

NOW = datetime(2026, 6, 15, 14, 0, tzinfo=UTC)
SAN_JUAN_FEED = {
    "agency.txt": (
        "agency_id,agency_name,agency_url,agency_timezone\n"
        "ATI,Tren Urbano,https://example.invalid/,America/Puerto_Rico\n"
    ),
    "stops.txt": (
        "stop_id,stop_name,stop_lat,stop_lon,location_type\n"
        "SAG,Sagrado Corazón,18.4500,-66.0685,1\n"
        "BAY,Bayamón,18.3990,-66.1530,1\n"
    ),
    "routes.txt": "route_id,agency_id,route_long_name,route_type\nTU,ATI,Tren Urbano,2\n",
    "trips.txt": "route_id,service_id,trip_id,trip_short_name\nTU,D,TU1,1\n",
    "stop_times.txt": (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "TU1,06:00:00,06:00:00,BAY,1\nTU1,06:30:00,06:30:00,SAG,2\n"
    ),
    "calendar.txt": (
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
        "D,1,1,1,1,1,1,1,20260101,20261231\n"
    ),
}


def test_a_san_juan_station_routes_its_tips_to_pr_and_a_pr_triager_sees_them(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    import_feed(session, write_feed(tmp_path / "pr", SAN_JUAN_FEED), feed="pr", now=NOW)
    station = session.scalars(select(Station).where(Station.code == "SAG")).one()
    assert station.state == "PR"
    poster = add_placement(session, station=station, spot="Baño, vestíbulo", now=NOW)
    submit_tip(
        session,
        placement=find_placement(session, poster.code),
        answers=TipAnswers(details="Marker Coquí"),
        token="pr-1",
        now=NOW,
        secret="s",
    )
    session.commit()
    tip = session.scalars(select(Tip)).one()
    assert tip.jurisdiction_codes() == ["PR"]

    app.config["CLOCK"] = lambda: NOW
    pr, pr_secret = factories.staff_user(
        session, email="pr@example.gov", role=Role.TRIAGER, jurisdictions=("PR",)
    )
    ny, ny_secret = factories.staff_user(session, email="ny@example.gov", jurisdictions=("NY",))
    for user, secret, sees in ((pr, pr_secret, True), (ny, ny_secret, False)):
        client = app.test_client()
        factories.sign_in(client, user.email, factories.STAFF_PASSWORD, secret)
        queue = client.get("/staff/").get_data(as_text=True)
        assert (f"/staff/tips/{tip.id}" in queue) is sees, user.email
        page = client.get(f"/staff/tips/{tip.id}")
        assert page.status_code == (200 if sees else 404)
        assert ("Marker Coquí" in page.get_data(as_text=True)) is sees
