"""GTFS import on a hand-made feed of hard cases: parsing, errors, re-imports in place."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.locations.conftest import HARD_FEED, count, dump, write_feed, zip_feed
from tipline.locations.gtfs import FeedError, feed_slug, import_feed
from tipline.locations.models import (
    Placement,
    ServiceCalendar,
    Station,
    Train,
    Trip,
)
from tipline.locations.services import add_placement, find_placement

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def hms(text: str) -> int:
    h, m, s = (int(p) for p in text.split(":"))
    return h * 3600 + m * 60 + s


def station(session: Session, stop_id: str) -> Station:
    return session.scalars(select(Station).where(Station.stop_id == stop_id)).one()


def test_hard_feed_stations(session: Session, hard_feed: Path) -> None:
    report = import_feed(session, hard_feed, feed=None, now=NOW)
    session.commit()

    assert report.feed == "hard-cases-rail"  # no feed_info.txt: the first agency's name
    assert report.stations_added == 4 and report.platforms == 1
    stops = {st.stop_id: st for st in session.scalars(select(Station))}
    assert set(stops) == {"MTL", "NYP", "ALB", "BUS1"}  # platform rolled up, entrance ignored
    mtl = stops["MTL"]
    assert (mtl.code, mtl.name, mtl.state, mtl.country) == (
        "MTRL",
        "Montréal, Gare Centrale",
        "QC",
        "CA",
    )
    assert (mtl.lat, mtl.lon, mtl.timezone) == (45.4998, -73.566, "America/Toronto")
    nyp = stops["NYP"]
    assert (nyp.code, nyp.name, nyp.state) == ("NYP", 'New York "Penn" Station', "NY")
    assert nyp.timezone == "America/New_York"  # no stop_timezone: the agency's
    assert all(st.in_feed for st in stops.values())


def test_hard_feed_trains_trips_and_times(session: Session, hard_feed: Path) -> None:
    report = import_feed(session, hard_feed, feed="Hard", now=NOW)
    session.commit()

    assert report.feed == "hard"
    assert (report.trips, report.trips_not_rail, report.trips_without_number) == (3, 1, 1)
    trains = {tr.number: tr for tr in session.scalars(select(Train))}
    assert set(trains) == {"68", "69"}  # not the bus's 9001
    assert trains["69"].route_name == "Adirondack, via Albany"
    assert [t.trip_id for t in trains["69"].trips] == ["T69", "T69B"]

    t69 = session.scalars(select(Trip).where(Trip.trip_id == "T69")).one()
    assert (t69.service_id, t69.headsign, t69.direction_id) == ("DAILY", "Montréal", 0)
    calls = [(s.seq, s.station.stop_id, s.arrival, s.departure) for s in t69.stops]
    assert calls == [
        (0, "NYP", None, hms("23:15:00")),
        (1, "ALB", None, None),  # blank intermediate times stay blank
        (2, "MTL", hms("80:35:00"), hms("80:40:00")),  # platform MTL-1 -> its station
    ]
    t68 = session.scalars(select(Trip).where(Trip.trip_id == "T68")).one()
    assert t68.stops[0].departure == hms("6:50:00")
    assert report.stop_calls == 8
    weekend = session.scalars(select(ServiceCalendar).where(ServiceCalendar.service_id == "WKND"))
    assert weekend.one().weekdays == "0000011"


def test_zip_imports_like_the_folder(
    app: Flask, session: Session, hard_feed: Path, tmp_path: Path
) -> None:
    import_feed(session, hard_feed, feed="hard", now=NOW)
    session.commit()
    from_folder = dump(app)
    import_feed(
        session, zip_feed(hard_feed, tmp_path / "feed.zip", inside="gtfs/"), feed="hard", now=NOW
    )
    session.commit()
    assert dump(app) == from_folder


def test_zip_without_a_folder(session: Session, hard_feed: Path, tmp_path: Path) -> None:
    report = import_feed(session, zip_feed(hard_feed, tmp_path / "flat.zip"), feed=None, now=NOW)
    assert (report.stations_added, report.trains_added) == (4, 2)


def test_reimport_of_the_same_feed_changes_nothing(
    app: Flask, session: Session, hard_feed: Path
) -> None:
    import_feed(session, hard_feed, feed=None, now=NOW)
    session.commit()
    before = dump(app)

    again = import_feed(session, hard_feed, feed=None, now=NOW)
    session.commit()

    assert dump(app) == before
    assert (again.stations_added, again.stations_updated, again.stations_unchanged) == (0, 0, 4)
    assert (again.trains_added, again.trains_updated, again.trains_unchanged) == (0, 0, 2)
    assert again.trips_changed == 0


def test_newer_feed_updates_in_place_and_keeps_placements(
    session: Session, hard_feed: Path, tmp_path: Path
) -> None:
    import_feed(session, hard_feed, feed="hard", now=NOW)
    nyp, alb = station(session, "NYP"), station(session, "ALB")
    t68 = session.scalars(select(Train).where(Train.number == "68")).one()
    at_alb = add_placement(session, station=alb, spot="Lobby", now=NOW)
    on_68 = add_placement(session, train=t68, spot="Car 2", now=NOW)
    session.commit()
    ids = (nyp.id, alb.id, t68.id, at_alb.id, on_68.id)

    # The next release renames NYP, drops Albany and train 68, and retimes train 69.
    newer = dict(HARD_FEED)
    newer["stops.txt"] = (
        newer["stops.txt"]
        .replace('"New York ""Penn"" Station"', "Moynihan Train Hall")
        .replace("ALB,,Albany-Rensselaer,-73.7411,42.641,0,,,,\r\n", "")
    )
    newer["stop_times.txt"] = "".join(
        line
        for line in HARD_FEED["stop_times.txt"].splitlines(keepends=True)
        if ",ALB," not in line and not line.startswith("T68,")
    ).replace("7:05:00,7:05:00", "7:10:00,7:10:00")
    newer["trips.txt"] = newer["trips.txt"].replace("T68,ADK,WKND,68,New York,1,\r\n", "")
    report = import_feed(session, write_feed(tmp_path / "newer", newer), feed="hard", now=NOW)
    session.commit()

    assert (report.stations_updated, report.stations_dropped) == (1, 1)
    assert report.trains_dropped == 1
    assert report.trips_changed == 3  # T69 lost Albany, T69B retimed, T68 gone
    nyp, alb = station(session, "NYP"), station(session, "ALB")
    assert (nyp.id, nyp.name, nyp.in_feed) == (ids[0], "Moynihan Train Hall", True)
    assert (alb.id, alb.in_feed) == (ids[1], False)
    t68 = session.scalars(select(Train).where(Train.number == "68")).one()
    assert (t68.id, t68.in_feed, t68.trips) == (ids[2], False, [])
    found = find_placement(session, at_alb.code)
    assert found is not None and found.id == ids[3] and found.station is alb
    assert session.get(Placement, ids[4]).train is t68  # type: ignore[union-attr]
    t69b = session.scalars(select(Trip).where(Trip.trip_id == "T69B")).one()
    assert t69b.stops[0].departure == hms("7:10:00")


@pytest.mark.parametrize(
    ("name", "replace", "message"),
    [
        ("stops.txt", None, "stops.txt: required file missing"),
        ("calendar.txt", None, "calendar.txt: missing"),
        (
            "stop_times.txt",
            ("9:05:00,9:07:00", "9:05:00,9:67:00"),
            "stop_times.txt line 8: departure_time '9:67:00' is not a time",
        ),
        (
            "stop_times.txt",
            ("T68,12:30:00,,NYP", "T68,12:30:00,,XXX"),
            "stop_times.txt line 9: stop_id 'XXX' not in stops.txt",
        ),
        (
            "stop_times.txt",
            ("T68,6:50:00,6:50:00,MTL,1", "T68,6:50:00,6:50:00,MTL,one"),
            "stop_times.txt line 7: stop_sequence 'one' is not a whole number",
        ),
        (
            "stops.txt",
            ("-73.9935,40.7506", "-73.9935,north"),
            "stops.txt line 6: stop_lat 'north' is not a number",
        ),
        (
            "stops.txt",
            (
                'MTL-1,,"Montréal, quai 1",-73.5661,45.4999,0,MTL',
                'MTL-1,,"Montréal, quai 1",-73.5661,45.4999,0,NOPE',
            ),
            "stops.txt line 3: parent_station 'NOPE' is not in stops.txt",
        ),
        (
            "routes.txt",
            ("route_type,route_id", "kind,route_id"),
            "routes.txt line 1: missing required column(s) route_type",
        ),
        ("trips.txt", ("T68,ADK", "T68,XYZ"), "trips.txt line 4: route_id 'XYZ' not in routes.txt"),
        (
            "calendar.txt",
            ("20260101,20261231\r\nWKND", "2026-01-01,20261231\r\nWKND"),
            "calendar.txt line 2: start_date '2026-01-01' is not a date",
        ),
    ],
)
def test_malformed_feeds_name_file_and_line(
    session: Session, tmp_path: Path, name: str, replace: tuple[str, str] | None, message: str
) -> None:
    files = dict(HARD_FEED)
    if replace is None:
        del files[name]
    else:
        assert replace[0] in files[name]
        files[name] = files[name].replace(replace[0], replace[1])
    with pytest.raises(FeedError) as caught:
        import_feed(session, write_feed(tmp_path / "bad", files), feed=None, now=NOW)
    assert message in str(caught.value)
    assert count(session, "station") == 0


def test_failed_reimport_leaves_the_previous_import(
    app: Flask, session: Session, hard_feed: Path, tmp_path: Path
) -> None:
    import_feed(session, hard_feed, feed="hard", now=NOW)
    session.commit()
    before = dump(app)
    files = dict(HARD_FEED)
    files["stop_times.txt"] += "T68,99:99:99,,NYP,4,\r\n"
    files["stops.txt"] = files["stops.txt"].replace("Albany-Rensselaer", "Albany")
    with pytest.raises(FeedError, match="stop_times.txt line 14"):
        import_feed(session, write_feed(tmp_path / "bad", files), feed="hard", now=NOW)
    session.rollback()
    assert dump(app) == before


def test_not_a_feed(session: Session, tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="no such folder or file"):
        import_feed(session, tmp_path / "absent", feed=None, now=NOW)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(FeedError, match="not a feed folder or a readable .zip"):
        import_feed(session, tmp_path / "junk.zip", feed=None, now=NOW)


def test_text_that_is_not_utf8_is_refused(session: Session, tmp_path: Path) -> None:
    folder = write_feed(tmp_path / "latin", HARD_FEED)
    (folder / "stops.txt").write_bytes(HARD_FEED["stops.txt"][1:].encode("latin-1"))
    with pytest.raises(FeedError, match="stops.txt line 2: not UTF-8"):
        import_feed(session, folder, feed=None, now=NOW)


def test_feed_names_are_slugs() -> None:
    assert feed_slug("VIA Rail Canada inc.") == "via-rail-canada-inc"
    assert feed_slug("Société de transport de Montréal") == "societe-de-transport-de-montreal"
    assert feed_slug("511 SF Bay") == "511-sf-bay"
    assert ":" not in feed_slug("a:b")
