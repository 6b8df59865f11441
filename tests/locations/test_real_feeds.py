"""The three real feeds in ../shared/data import whole and right."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import shared_feed
from tipline.locations.gtfs import import_feed
from tipline.locations.models import Station, Train, Trip, TripStop

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def by_code(session: Session, feed: str) -> dict[str, Station]:
    return {st.code: st for st in session.scalars(select(Station).where(Station.feed == feed))}


def test_amtrak(session: Session) -> None:
    report = import_feed(session, shared_feed("amtrak-gtfs"), feed=None, now=NOW)
    session.commit()

    assert report.feed == "amtrak"
    stations = by_code(session, "amtrak")
    assert len(stations) >= 500
    assert [st.code for st in stations.values() if not st.state] == []
    assert {st.country for st in stations.values()} == {"US", "CA"}
    assert (stations["NYP"].state, stations["WAS"].state, stations["MTR"].state) == (
        "NY",
        "DC",
        "QC",
    )
    assert stations["ABQ"].timezone == "America/Denver"
    trains = {tr.number: tr for tr in session.scalars(select(Train))}
    assert len(trains) >= 600
    assert report.trips_not_rail > 0  # Thruway buses are skipped...
    bus = session.scalars(select(Trip).where(Trip.route_name.like("%Thruway%"))).first()
    assert bus is None  # ...and none slipped in

    t66 = trains["66"]
    assert t66.route_name == "Northeast Regional" and len(t66.trips) == 5
    calls = [(s.station.code, s.arrival, s.departure) for s in t66.trips[0].stops]
    assert calls[0][0] == "RNK" and calls[-1][0] == "BOS"
    assert ("PHL", 24 * 3600 + 6 * 60, 27 * 3600 + 25 * 60) in calls  # past midnight
    seconds = [t for _, a, d in calls for t in (a, d) if t is not None]
    assert seconds == sorted(seconds)


def test_caltrain_platforms_roll_up(session: Session) -> None:
    report = import_feed(session, shared_feed("caltrain-gtfs"), feed="caltrain", now=NOW)
    session.commit()

    stations = by_code(session, "caltrain")
    assert report.platforms > 0 and len(stations) == report.stations_added
    assert "22nd_street" in stations and "70021" not in stations  # the platform
    assert {st.state for st in stations.values()} == {"CA"}
    assert all(st.timezone == "America/Los_Angeles" for st in stations.values())
    called = set(
        session.scalars(select(Station.stop_id).join(TripStop).where(Station.feed == "caltrain"))
    )
    assert "22nd_street" in called and not any(stop_id.isdigit() for stop_id in called)
    assert report.trains >= 100 and report.service_exceptions == 14


def test_via_rail(session: Session) -> None:
    report = import_feed(session, shared_feed("via-rail-gtfs"), feed=None, now=NOW)
    session.commit()

    assert report.feed == "via-rail-canada-inc"
    stations = by_code(session, report.feed)
    assert "MTRL" in stations and "TRTO" in stations  # codes from stop_code, not stop_id
    assert stations["MTRL"].name.startswith("Montréal")
    assert any(re.search("[éèàç]", name) for name in (st.name for st in stations.values()))
    assert stations["MTRL"].state == "QC" and stations["TRTO"].state == "ON"
    assert stations["MTRL"].lat > 45 and stations["MTRL"].lon < -73  # stop_lon comes first
    provinces = {st.state for st in stations.values() if st.country == "CA"}
    assert {"QC", "ON", "MB", "SK", "AB", "BC", "NB", "NS"} <= provinces
    assert "NU" not in provinces  # no railway reaches Nunavut
    # Stops whose nearest town lies across a border, put right by their time zone.
    assert {code: stations[code].state for code in ("CHUR", "MCBR", "MTPD", "CHLO", "TOGO")} == {
        "CHUR": "MB",
        "MCBR": "BC",
        "MTPD": "QC",
        "CHLO": "NB",
        "TOGO": "SK",
    }
    assert [st.code for st in stations.values() if not st.state] == []
    assert {st.state for st in stations.values() if st.country == "US"} == {"NY"}
    assert report.trains >= 80
