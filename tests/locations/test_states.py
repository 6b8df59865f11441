"""A station's state: the boundaries decide, a person confirms what lies near a line, and the
person's word outlives every re-import; tips keep the state they were routed with."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.locations.conftest import write_feed
from tipline.accounts.models import AuditEvent
from tipline.intake.models import Tip
from tipline.intake.services import TipAnswers, submit_tip
from tipline.locations.models import Placement, Station
from tipline.locations.services import add_placement, find_station

NOW = datetime(2026, 12, 2, 18, 30, tzinfo=UTC)

BORDER_FEED = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
    "1,Border Rail,https://example.invalid/,America/New_York\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon,stop_timezone\n"
    "NFL,Niagara Falls Amtrak Station,43.109908,-79.055276,America/New_York\n"
    "BLF,Bellows Falls Amtrak Station,43.13654,-72.444597,America/New_York\n"
    "ALB,Albany-Rensselaer,42.641,-73.7411,America/New_York\n"
    "LBO,Lbo,54.77395978,-101.84806319,America/New_York\n",
    "routes.txt": "route_id,agency_id,route_long_name,route_type\nR,1,Border Line,2\n",
    "trips.txt": "route_id,service_id,trip_id,trip_short_name\nR,D,T1,1\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "T1,08:00:00,08:00:00,ALB,1\nT1,12:00:00,12:00:00,BLF,2\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
    "start_date,end_date\nD,1,1,1,1,1,1,1,20260101,20271231\n",
}


def test_check_lists_what_a_person_should_confirm(
    invoke: Callable[..., Result], tmp_path: Path
) -> None:
    imported = invoke("gtfs", "import", str(write_feed(tmp_path / "b", BORDER_FEED)))
    assert imported.exit_code == 0, imported.output
    assert "3 station(s) near a border or with a doubtful time zone" in imported.output
    rows = {r["code"]: r for r in json.loads(invoke("stations", "check", "--json").output)}
    assert set(rows) == {"NFL", "BLF", "LBO"}  # Albany is far from any line
    assert (rows["NFL"]["state"], rows["NFL"]["border_with"]) == ("NY", "ON")
    assert rows["NFL"]["border_km"] < 0.5
    # The shipped lines are too coarse at Bellows Falls: the boundaries say New Hampshire.
    assert (rows["BLF"]["state_by_boundaries"], rows["BLF"]["border_with"]) == ("NH", "VT")
    assert rows["LBO"]["state_note"] == "its time zone America/New_York is not used in MB"
    table = invoke("stations", "check").output
    assert "3 stations to confirm" in table and "0.29 ON" in table


def test_a_correction_is_audited_and_outlives_reimports(
    invoke: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    feed = write_feed(tmp_path / "b", BORDER_FEED)
    invoke("gtfs", "import", str(feed), "--feed", "border")
    set_vt = invoke("stations", "set-state", "BLF", "vt")
    assert set_vt.exit_code == 0, set_vt.output
    assert "NH -> VT (set by a person; boundaries say NH)" in set_vt.output
    assert invoke("stations", "set-state", "NFL", "NY").exit_code == 0  # a confirmation

    assert invoke("gtfs", "import", str(feed), "--feed", "border").exit_code == 0
    session.expire_all()
    blf = find_station(session, "BLF")
    assert (blf.state, blf.state_auto, blf.state_override, blf.country) == ("VT", "NH", "VT", "US")
    left = {r["code"] for r in json.loads(invoke("stations", "check", "--json").output)}
    assert left == {"LBO"}
    every = json.loads(invoke("stations", "check", "--all", "--json").output)
    assert {r["code"] for r in every} == {"NFL", "BLF", "LBO"}

    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "station.set_state").order_by(AuditEvent.id)
    ).all()
    assert [(e.actor_email, e.target, e.detail["from"], e.detail["to"]) for e in events] == [
        ("cli", "station:border:BLF", "NH", "VT"),
        ("cli", "station:border:NFL", "NY", "NY"),
    ]
    cleared = invoke("stations", "set-state", "BLF", "--clear")
    assert cleared.exit_code == 0 and "VT -> NH (by the boundaries)" in cleared.output


def test_bad_states_are_refused(invoke: Callable[..., Result], tmp_path: Path) -> None:
    invoke("gtfs", "import", str(write_feed(tmp_path / "b", BORDER_FEED)))
    for bad in ("ZZ", "national", "New York"):
        result = invoke("stations", "set-state", "BLF", bad)
        assert result.exit_code == 1 and "is not a US state" in result.output, bad
    neither = invoke("stations", "set-state", "BLF")
    assert neither.exit_code == 2 and "give a state" in neither.output
    unknown = invoke("stations", "set-state", "XYZ", "NY")
    assert unknown.exit_code == 1 and "no station 'XYZ'" in unknown.output


def test_tips_keep_the_state_they_were_routed_with(
    invoke: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    feed = write_feed(tmp_path / "b", BORDER_FEED)
    invoke("gtfs", "import", str(feed))
    poster = add_placement(session, station=find_station(session, "BLF"), spot="Lobby", now=NOW)
    session.commit()

    def send(token: str) -> Tip:
        placement = session.get_one(Placement, poster.id)
        receipt = submit_tip(
            session,
            placement=placement,
            answers=TipAnswers(details="seen"),
            token=token,
            now=NOW,
            secret="s",
        )
        session.commit()
        return session.get_one(Tip, receipt.tip_id)

    before = send("one")
    assert (before.state, before.jurisdiction_codes()) == ("NH", ["NH"])
    session.commit()  # end the read, as a request would, before the CLI writes
    corrected = invoke("stations", "set-state", "BLF", "VT")
    assert corrected.exit_code == 0, corrected.output
    assert invoke("gtfs", "import", str(feed)).exit_code == 0
    session.expire_all()  # sessions keep what they loaded across commits
    after = send("two")
    assert (after.state, after.jurisdiction_codes()) == ("VT", ["VT"])
    first = session.get_one(Tip, before.id)
    assert (first.state, first.jurisdiction_codes()) == ("NH", ["NH"])
    assert session.scalar(select(Station.state).where(Station.code == "BLF")) == "VT"
