"""The importer under bad input: time zones checked at import, every zip or encoding failure a
clear error naming the file, NUL refused, missing columns named; nothing written on failure;
and stop times read in each route's agency's time zone."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.locations.conftest import HARD_FEED, count, dump, write_feed, zip_feed
from tipline.locations.gtfs import FeedError, import_feed
from tipline.locations.models import Trip

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def broken(session: Session, tmp_path: Path, name: str, old: str, new: str) -> str:
    """Import the hard feed with one replacement in file `name`; the FeedError's text."""
    files = dict(HARD_FEED)
    assert old in files[name]
    files[name] = files[name].replace(old, new, 1)
    with pytest.raises(FeedError) as caught:
        import_feed(session, write_feed(tmp_path / "bad", files), feed=None, now=NOW)
    assert count(session, "station") == 0
    return str(caught.value)


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (
            "stops.txt",
            "America/Toronto,,1",
            "Mars/Olympus_Mons,,1",
            "stops.txt line 2: stop_timezone 'Mars/Olympus_Mons' is not a known time zone",
        ),
        (
            "stops.txt",
            "America/Toronto,,1",
            "../../../etc/passwd,,1",
            "stops.txt line 2: stop_timezone '../../../etc/passwd' is not a known time zone",
        ),
        (
            "agency.txt",
            "America/New_York",
            "Eastern Time",
            "agency.txt line 2: agency_timezone 'Eastern Time' is not a known time zone",
        ),
        ("agency.txt", "America/New_York", "", "agency.txt line 2: agency_timezone is empty"),
        (
            "agency.txt",
            "agency_timezone",
            "agency_tz",
            "agency.txt line 1: missing required column(s) agency_timezone",
        ),
        (
            "stops.txt",
            "stop_lon,stop_lat",
            "stop_lon,latitude",
            "stops.txt line 1: missing required column(s) stop_lat",
        ),
        (
            "stops.txt",
            "Albany-Rensselaer",
            "Albany\x00Rensselaer",
            "stops.txt line 7: contains a NUL character",
        ),
        (
            "trips.txt",
            "T68,ADK,WKND,68,New York",
            "T68,ADK,WKND,6\x008,New York",
            "trips.txt line 4: contains a NUL character",
        ),
        (
            "routes.txt",
            "2,EMP,,Empire,1",
            "2,EMP,,Empire,9",
            "routes.txt line 4: agency_id '9' is not in agency.txt",
        ),
    ],
)
def test_bad_values_name_file_line_and_what(
    session: Session, tmp_path: Path, name: str, old: str, new: str, message: str
) -> None:
    assert message in broken(session, tmp_path, name, old, new)


def test_a_route_without_an_agency_in_a_feed_of_several(session: Session, tmp_path: Path) -> None:
    files = dict(HARD_FEED)
    files["agency.txt"] += "2,Other Rail,https://example.invalid/,America/Chicago\r\n"
    files["routes.txt"] = files["routes.txt"].replace("2,EMP,,Empire,1", "2,EMP,,Empire,")
    with pytest.raises(FeedError, match="routes.txt line 4: agency_id is empty, and agency.txt"):
        import_feed(session, write_feed(tmp_path / "bad", files), feed=None, now=NOW)


def test_times_are_read_in_each_routes_agency_zone(session: Session, tmp_path: Path) -> None:
    files = dict(HARD_FEED)
    files["agency.txt"] += "2,Prairie Rail,https://example.invalid/,America/Chicago\r\n"
    files["routes.txt"] = files["routes.txt"].replace("2,EMP,,Empire,1", "2,EMP,,Empire,2")
    files["trips.txt"] = files["trips.txt"].replace("T-NONUM,EMP,DAILY,,", "T-NONUM,EMP,DAILY,77,")
    import_feed(session, write_feed(tmp_path / "two", files), feed="two", now=NOW)
    zones = {
        row.trip_id: row.timezone for row in session.execute(select(Trip.trip_id, Trip.timezone))
    }
    assert zones == {
        "T69": "America/New_York",
        "T69B": "America/New_York",
        "T68": "America/New_York",
        "T-NONUM": "America/Chicago",
    }
    calls = session.scalars(select(Trip).where(Trip.trip_id == "T69")).one().stops
    # The feed's own sequence numbers and stop (platform) ids are kept for realtime updates.
    assert [(c.stop_sequence, c.stop_id) for c in calls] == [(1, "NYP"), (5, "ALB"), (9, "MTL-1")]


def _zip(tmp_path: Path) -> Path:
    folder = write_feed(tmp_path / "feed", HARD_FEED)
    return zip_feed(folder, tmp_path / "feed.zip")


def _member_offsets(path: Path, name: str) -> tuple[int, int]:
    """(local header offset, central directory header offset) of a member."""
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(name).header_offset
    data = path.read_bytes()
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    return local, central


def _patch(path: Path, offset: int, fmt: str, value: int) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))


def test_a_damaged_member_is_named(session: Session, tmp_path: Path) -> None:
    path = _zip(tmp_path)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("stop_times.txt")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data = bytearray(path.read_bytes())
    data[start + 5] ^= 0xFF  # a flipped byte inside the stored data: its CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(
        FeedError, match="stop_times.txt: cannot be read \\(the zip member is damaged"
    ):
        import_feed(session, path, feed=None, now=NOW)


def test_a_corrupt_deflate_stream_is_named(session: Session, tmp_path: Path) -> None:
    folder = write_feed(tmp_path / "feed", HARD_FEED)
    path = tmp_path / "deflated.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, file.name)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("trips.txt")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data = bytearray(path.read_bytes())
    data[start : start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(FeedError, match="trips.txt: cannot be read \\(the zip member is damaged"):
        import_feed(session, path, feed=None, now=NOW)


def test_an_encrypted_member_is_named(session: Session, tmp_path: Path) -> None:
    path = _zip(tmp_path)
    local, central = _member_offsets(path, "routes.txt")
    _patch(path, local + 6, "<H", 0x1)  # general purpose flag: encrypted
    _patch(path, central + 8, "<H", 0x1)
    with pytest.raises(
        FeedError, match="routes.txt: cannot be read \\(the zip member is encrypted"
    ):
        import_feed(session, path, feed=None, now=NOW)


def test_an_unknown_compression_method_is_named(session: Session, tmp_path: Path) -> None:
    path = _zip(tmp_path)
    local, central = _member_offsets(path, "calendar.txt")
    _patch(path, local + 8, "<H", 99)  # AES, which Python cannot read
    _patch(path, central + 10, "<H", 99)
    with pytest.raises(
        FeedError, match="calendar.txt: cannot be read \\(the zip uses a compression"
    ):
        import_feed(session, path, feed=None, now=NOW)


def test_a_truncated_zip_and_other_encodings(session: Session, tmp_path: Path) -> None:
    path = _zip(tmp_path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(FeedError, match="not a feed folder or a readable .zip"):
        import_feed(session, path, feed=None, now=NOW)
    folder = write_feed(tmp_path / "utf16", HARD_FEED)
    (folder / "routes.txt").write_bytes(HARD_FEED["routes.txt"].encode("utf-16"))
    with pytest.raises(FeedError, match="routes.txt line 1: not UTF-8 text"):
        import_feed(session, folder, feed=None, now=NOW)


def test_the_cli_says_what_is_wrong_and_writes_nothing(
    app: Flask, invoke: Callable[..., Result], hard_feed: Path, tmp_path: Path
) -> None:
    assert invoke("gtfs", "import", str(hard_feed), "--feed", "hard").exit_code == 0
    before = dump(app)
    files = dict(HARD_FEED)
    files["stops.txt"] = files["stops.txt"].replace("America/Toronto", "Mars/Olympus_Mons")
    result = invoke("gtfs", "import", str(write_feed(tmp_path / "mars", files)), "--feed", "hard")
    assert result.exit_code == 1
    assert result.output.startswith("Error: stops.txt line 2: stop_timezone 'Mars/Olympus_Mons'")
    assert "nothing imported" in result.output and "Traceback" not in result.output
    assert dump(app) == before


def test_a_zone_stored_before_imports_checked_it_never_breaks_a_position(
    session: Session,
) -> None:
    from tests import factories
    from tipline.locations.schedule import train_runs

    mars = factories.station(session, code="MRS", tz="Mars/Olympus_Mons")
    nyp = factories.station(session)
    train = factories.train(
        session, number="1", stops=[(mars, None, 8 * 3600), (nyp, 10 * 3600, None)]
    )
    runs = train_runs(session, [train], datetime(2026, 6, 10, 9, tzinfo=UTC))
    assert [run.as_dict()["origin"]["timezone"] for run in runs] == ["Mars/Olympus_Mons"]
