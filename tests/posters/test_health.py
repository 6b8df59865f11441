"""Poster health: scans per day, and the silent and spiking flags, on injected counts and time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import make_test_app
from tipline.config import Settings, SettingsError, get_settings
from tipline.db import Database
from tipline.locations.models import Placement, ScanCount, Station
from tipline.posters.health import (
    Flag,
    HealthRules,
    assess,
    daily_scans,
    needs_attention,
    scans_in_last,
    utc_day,
)

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
TODAY = date(2026, 11, 28)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
RULES = HealthRules()


def poster(
    session: Session, *, created: datetime = LONG_AGO, spot: str = "Platform 1"
) -> Placement:
    """A placement at New York Penn, created at `created`."""
    station = session.query(Station).filter_by(code="NYP").first() or factories.station(session)
    pl = factories.placement(session, station=station, spot=spot)
    pl.created_at = created
    session.flush()
    return pl


def scans(session: Session, placement: Placement, counts: dict[int, int]) -> None:
    """Counts by days before today: {0: today's, 1: yesterday's, ...}."""
    for back, count in counts.items():
        session.add(
            ScanCount(placement_id=placement.id, day=TODAY - timedelta(days=back), count=count)
        )
    session.flush()


def baseline(per_day: int, *, days: int = 14, before: int = 2) -> dict[int, int]:
    """`per_day` scans on each of the `days` days before the last `before` days."""
    return {back: per_day for back in range(before, before + days)}


def test_daily_scans_fill_missing_days_with_zero_oldest_first(session: Session) -> None:
    pl = poster(session)
    scans(session, pl, {0: 3, 2: 5, 6: 1, 7: 99, -1: 50})

    series = daily_scans(session, pl.id, now=NOW, days=7)

    assert series == [
        (date(2026, 11, 22), 1),
        (date(2026, 11, 23), 0),
        (date(2026, 11, 24), 0),
        (date(2026, 11, 25), 0),
        (date(2026, 11, 26), 5),
        (date(2026, 11, 27), 0),
        (date(2026, 11, 28), 3),
    ]


def test_days_are_utc_days(session: Session) -> None:
    # 21:30 in New York on the 27th is already the 28th in UTC, the day scans were counted on.
    evening = datetime(2026, 11, 27, 21, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert utc_day(evening) == TODAY
    pl = poster(session)
    scans(session, pl, {0: 4})
    assert daily_scans(session, pl.id, now=evening, days=1) == [(TODAY, 4)]


def test_scans_in_last_seven_days_per_placement(session: Session) -> None:
    quiet, busy = poster(session, spot="A"), poster(session, spot="B")
    scans(session, busy, {0: 2, 6: 3, 7: 100})

    assert scans_in_last(session, [quiet.id, busy.id], now=NOW, days=7) == {
        quiet.id: 0,
        busy.id: 5,
    }
    assert scans_in_last(session, [], now=NOW) == {}


def test_a_busy_poster_that_stops_is_silent(session: Session) -> None:
    pl = poster(session)
    scans(session, pl, baseline(4))

    health = assess(session, now=NOW, rules=RULES)[pl.id]

    assert health.flag is Flag.SILENT
    assert health.baseline_days == 14
    assert health.baseline_average == 4
    assert health.recent_total == 0
    assert health.reason == "no scans recently, after 4.0 a day before"


@pytest.mark.parametrize(
    ("counts", "why"),
    [
        ({**baseline(4), 1: 1}, "one scan yesterday"),
        ({**baseline(4), 0: 1}, "one scan today"),
        ({**baseline(3, days=13), 15: 2}, "an average just under 3 a day (41 / 14)"),
        ({}, "never scanned: nothing to go silent from"),
    ],
)
def test_not_silent(session: Session, counts: dict[int, int], why: str) -> None:
    pl = poster(session)
    scans(session, pl, counts)

    assert assess(session, now=NOW, rules=RULES)[pl.id].flag is None, why


def test_the_baseline_counts_only_days_the_poster_existed(session: Session) -> None:
    # Put up 3 days before the recent window: 12 scans in 3 days is 4 a day, not 12 / 14.
    pl = poster(session, created=NOW - timedelta(days=4))
    scans(session, pl, {2: 4, 3: 4, 4: 4})

    health = assess(session, now=NOW, rules=RULES)[pl.id]

    assert (health.baseline_days, health.baseline_average) == (3, 4.0)
    assert health.flag is Flag.SILENT


def test_a_poster_put_up_within_the_recent_window_is_never_flagged(session: Session) -> None:
    pl = poster(session, created=NOW - timedelta(days=1))
    scans(session, pl, {1: 80, 0: 90})

    health = assess(session, now=NOW, rules=RULES)[pl.id]

    assert health.flag is None
    assert health.baseline_days == 0
    assert health.reason == "too new to judge"


@pytest.mark.parametrize(
    ("per_day", "recent", "flag"),
    [
        (1, {0: 11}, Flag.SPIKING),  # above the floor of 10 (5 x 1 = 5 is lower)
        (1, {0: 10}, None),  # at the floor: not above it
        (0, {1: 11}, Flag.SPIKING),  # yesterday counts too; a quiet poster's floor is 10
        (4, {1: 21}, Flag.SPIKING),  # above 5 x 4 = 20
        (4, {1: 20, 0: 20}, None),  # at 5 x the average, on both days
    ],
)
def test_spiking(session: Session, per_day: int, recent: dict[int, int], flag: Flag | None) -> None:
    pl = poster(session)
    scans(session, pl, {**baseline(per_day), **recent})

    health = assess(session, now=NOW, rules=RULES)[pl.id]

    assert health.flag is flag
    assert health.recent_peak == max(recent.values())
    assert health.spike_threshold == max(10, 5 * per_day)


def test_the_day_before_the_window_is_baseline_not_recent(session: Session) -> None:
    # 40 scans two days ago is the baseline's last day: it raises the average, flags nothing.
    pl = poster(session)
    scans(session, pl, {2: 40})

    health = assess(session, now=NOW, rules=RULES)[pl.id]

    assert (health.flag, health.recent_total, health.baseline_average) == (None, 0, 40 / 14)


def test_rows_outside_the_window_are_ignored(session: Session) -> None:
    pl = poster(session)
    scans(session, pl, {16: 500, -1: 500, **baseline(4)})

    health = assess(session, now=NOW, rules=RULES)[pl.id]

    assert health.baseline_average == 4
    assert health.flag is Flag.SILENT


def test_retired_posters_are_assessed_but_never_flagged(session: Session) -> None:
    pl = poster(session)
    scans(session, pl, baseline(9))
    pl.active = False
    session.flush()

    assert pl.id not in assess(session, now=NOW, rules=RULES)
    health = assess(session, now=NOW, rules=RULES, placement_ids=[pl.id])[pl.id]
    assert health.flag is None
    assert health.baseline_average == 9
    assert needs_attention(session, now=NOW, rules=RULES) == []


def test_needs_attention_lists_silent_then_spiking_with_their_place(session: Session) -> None:
    fine = poster(session, spot="Fine")
    spiking = poster(session, spot="Spiking")
    silent = poster(session, spot="Silent")
    scans(session, fine, {**baseline(4), 0: 5})
    scans(session, spiking, {**baseline(2), 0: 60})
    scans(session, silent, baseline(5))
    session.commit()
    session.expunge_all()

    found = needs_attention(session, now=NOW, rules=RULES)

    assert [(a.placement.spot, a.health.flag) for a in found] == [
        ("Silent", Flag.SILENT),
        ("Spiking", Flag.SPIKING),
    ]
    assert found[0].placement.station is not None
    assert found[0].placement.station.code == "NYP"


def test_the_rules_follow_the_settings(session: Session) -> None:
    pl = poster(session)
    scans(session, pl, {**baseline(2, days=14, before=3), 2: 0, 1: 0, 0: 0})

    # Three silent days at 2 a day: not silent by default (2 < 3), silent at a lower bar.
    assert assess(session, now=NOW, rules=RULES)[pl.id].flag is None
    lower = HealthRules(silent_min_average=2, silent_days=3)
    assert assess(session, now=NOW, rules=lower)[pl.id].flag is Flag.SILENT


def test_rules_from_settings_and_the_environment(
    monkeypatch: pytest.MonkeyPatch, _migrated: str, tmp_path: Path
) -> None:
    assert HealthRules.from_settings(Settings()) == HealthRules(
        silent_days=2, baseline_days=14, silent_min_average=3.0, spike_factor=5.0, spike_min=10
    )
    monkeypatch.setenv("TIPLINE_SCAN_SILENT_DAYS", "3")
    monkeypatch.setenv("TIPLINE_SCAN_SPIKE_FACTOR", "2.5")
    monkeypatch.setenv("TIPLINE_SCAN_SPIKE_MIN", "25")
    monkeypatch.setenv("TIPLINE_SCAN_BASELINE_DAYS", "28")
    monkeypatch.setenv("TIPLINE_SCAN_SILENT_MIN_AVERAGE", "1.5")
    app: Flask = make_test_app(_migrated, tmp_path / "instance")
    try:
        assert HealthRules.from_settings(get_settings(app)) == HealthRules(
            silent_days=3, baseline_days=28, silent_min_average=1.5, spike_factor=2.5, spike_min=25
        )
    finally:
        Database.engine(app).dispose()


@pytest.mark.parametrize(
    "settings",
    [
        {"SCAN_SILENT_DAYS": 0},
        {"SCAN_BASELINE_DAYS": "two weeks"},
        {"SCAN_SPIKE_FACTOR": -1},
        {"SCAN_SILENT_MIN_AVERAGE": 0},
    ],
)
def test_nonsense_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(SettingsError, match="TIPLINE_SCAN_"):
        Settings().replace(**settings)
