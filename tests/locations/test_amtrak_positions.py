"""The real Amtrak feed, read by the GTFS rule (times in the agency's zone, New York), against
Amtrak's public timetable; every run under way; states of every station by the boundaries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import shared_feed
from tipline.locations.models import Station, Train
from tipline.locations.schedule import RunStatus, train_runs

pytestmark = pytest.mark.slow


@pytest.fixture
def amtrak(invoke: Callable[..., Result]) -> Callable[..., dict[str, object]]:
    """The real Amtrak feed imported; `where(number, at)` gives `trains where --json`."""
    result = invoke("gtfs", "import", str(shared_feed("amtrak-gtfs")))
    assert result.exit_code == 0, result.output

    def where(number: str, at: str) -> dict[str, object]:
        found = invoke("trains", "where", number, "--at", at, "--json")
        assert found.exit_code == 0, found.output
        return json.loads(found.output)  # type: ignore[no-any-return]

    return where


def legs(report: dict[str, object]) -> list[tuple[str, str, str]]:
    """(status, last, next) of each run."""
    return [
        (r["status"], r["last"] and r["last"]["code"], r["next"] and r["next"]["code"])
        for r in report["runs"]  # type: ignore[attr-defined]
    ]


def test_the_done_when_positions(amtrak: Callable[..., dict[str, object]]) -> None:
    starlight = amtrak("11", "2026-12-02T18:30:00Z")
    assert legs(starlight) == [("under_way", "SJC", "SNS"), ("under_way", "SEA", "TAC")]
    zephyr = amtrak("5", "2026-12-02T20:30:00Z")
    assert legs(zephyr) == [
        ("under_way", "TRU", "COX"),
        ("under_way", "GRA", "GSC"),
        ("under_way", "CHI", "NPV"),
    ]
    assert zephyr["under_way"] == 3
    # Train 66 dwells three hours in Philadelphia after midnight: it is still there.
    assert legs(amtrak("66", "2026-12-02T06:04:00Z")) == [("under_way", "PHL", "NWK")]


def test_times_match_the_public_timetable(amtrak: Callable[..., dict[str, object]]) -> None:
    # The California Zephyr leaves Chicago at 2:00 pm Central (stored as 15:00:00, New York).
    (_, _, leaving) = amtrak("5", "2026-12-02T20:30:00Z")["runs"]  # type: ignore[misc]
    assert leaving["origin"]["code"] == "CHI"
    assert leaving["origin"]["local_time"] == "2026-12-02T14:00:00-06:00"
    assert leaving["origin"]["clock"] == "Wed 14:00 CST"
    # In summer too, across the change to daylight time: 2:00 pm CDT.
    (summer, *_rest) = [
        run
        for run in amtrak("5", "2026-07-15T19:30:00Z")["runs"]  # type: ignore[attr-defined]
        if run["service_date"] == "2026-07-15"
    ]
    assert summer["origin"]["local_time"] == "2026-07-15T14:00:00-05:00"
    # The Coast Starlight leaves Seattle in the morning, Pacific time.
    (_, seattle) = amtrak("11", "2026-12-02T18:30:00Z")["runs"]  # type: ignore[misc]
    assert seattle["origin"]["code"] == "SEA"
    assert seattle["origin"]["local_time"] == "2026-12-02T09:55:00-08:00"


def test_a_three_day_trip_across_the_fall_back_night(
    amtrak: Callable[..., dict[str, object]],
) -> None:
    """The Zephyr of Saturday 31 October (DST ends on 1 November) still rolls on Monday; its
    times count from that Saturday's noon minus 12 h, so the clocks' change shifts none of them
    on the real clock, and the local times read in standard time after it."""
    report = amtrak("5", "2026-11-02T18:00:00Z")
    saturday = [r for r in report["runs"] if r["service_date"] == "2026-10-31"]  # type: ignore[attr-defined]
    (run,) = saturday
    assert run["status"] == "under_way"
    assert run["origin"]["local_time"] == "2026-10-31T14:00:00-05:00"  # CDT
    assert run["next"]["local_time"].endswith("-08:00")  # PST by Monday
    assert run["destination"]["code"] == "EMY"


def test_across_midnight_the_service_day_is_yesterdays(
    amtrak: Callable[..., dict[str, object]],
) -> None:
    (run,) = amtrak("66", "2026-12-02T06:04:00Z")["runs"]  # type: ignore[misc]
    assert run["service_date"] == "2026-12-01"
    assert run["last"]["local_time"] == "2026-12-02T00:06:00-05:00"


def test_every_station_is_placed_by_the_boundaries(session: Session) -> None:
    from tipline.locations.gtfs import import_feed

    now = datetime(2026, 12, 1, tzinfo=UTC)
    for name in ("amtrak", "via-rail", "caltrain"):
        import_feed(session, shared_feed(f"{name}-gtfs"), feed=name, now=now)
    session.commit()
    stations = list(session.scalars(select(Station)))
    assert len(stations) > 1000
    assert [s.code for s in stations if s.state is None] == []
    assert all(s.state == s.state_auto and s.state_override is None for s in stations)
    by_code = {(s.feed, s.code): s.state for s in stations}
    assert by_code[("amtrak", "NFL")] == "NY"
    assert by_code[("amtrak", "CIN")] == "OH"
    assert by_code[("amtrak", "VAN")] == "WA"
    assert {s.state for s in stations if s.feed == "caltrain"} == {"CA"}


def test_every_run_of_a_turning_car(session: Session) -> None:
    from tipline.locations.gtfs import import_feed

    import_feed(session, shared_feed("amtrak-gtfs"), feed=None, now=datetime.now(UTC))
    session.commit()
    numbers = session.scalars(
        select(Train).where(Train.feed == "amtrak", Train.number.in_(["5", "6"]))
    ).all()
    runs = train_runs(session, numbers, datetime(2026, 12, 2, 20, 30, tzinfo=UTC))
    assert {r.train_number for r in runs} == {"5", "6"}
    assert all(r.status is RunStatus.UNDER_WAY for r in runs) and len(runs) >= 5
