"""Poster health: scans per placement per day, and the placements that went silent or spiked.

A poster covered by a fake sticker (a code that sends travelers elsewhere) stops being scanned:
its placement goes *silent*. A code photographed and spread, or a flood of pranks, makes it
*spike*. The rule, on UTC days (scans are counted per UTC day):

- the *recent window* is the last `silent_days` days, today included;
- the *baseline* is the `baseline_days` days before it, counted only from the day the placement
  was created; its *average* is the baseline's scans divided by those days;
- **silent**: the baseline average is at least `silent_min_average` scans a day, and the recent
  window has no scan at all;
- **spiking**: some day of the recent window has more than
  max(`spike_min`, `spike_factor` x the baseline average) scans.

A placement with no baseline day yet (created within the recent window) and a retired one are
never flagged. Only counts are read: nothing about who scanned exists to read.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session, joinedload

from tipline.config import Settings
from tipline.locations.models import Placement, ScanCount


class Flag(enum.StrEnum):
    """Why a placement needs a look."""

    SILENT = "silent"
    SPIKING = "spiking"


class InvalidRules(ValueError):
    """A health setting that is not a positive number (or not a whole one where days are meant)."""


@dataclass(frozen=True)
class HealthRules:
    """The thresholds of the silent and spiking flags (see the module docstring)."""

    silent_days: int = 2
    baseline_days: int = 14
    silent_min_average: float = 3.0
    spike_factor: float = 5.0
    spike_min: int = 10

    def __post_init__(self) -> None:
        for name in ("silent_days", "baseline_days", "spike_min"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidRules(f"{name} must be a whole number of at least 1, not {value!r}")
        for name in ("silent_min_average", "spike_factor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise InvalidRules(f"{name} must be a number above 0, not {value!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> HealthRules:
        """The rules from the TIPLINE_SCAN_* settings."""
        return cls(
            silent_days=settings.scan_silent_days,
            baseline_days=settings.scan_baseline_days,
            silent_min_average=settings.scan_silent_min_average,
            spike_factor=settings.scan_spike_factor,
            spike_min=settings.scan_spike_min,
        )

    @property
    def window_days(self) -> int:
        """How many days back the rule reads: the baseline and the recent window."""
        return self.baseline_days + self.silent_days


@dataclass(frozen=True)
class Health:
    """One placement's standing under the rules."""

    placement_id: int
    flag: Flag | None
    baseline_days: int  # days of the baseline the placement existed; 0: no baseline yet
    baseline_average: float
    recent_total: int
    recent_peak: int  # the busiest day of the recent window
    spike_threshold: float  # a recent day above this is a spike

    @property
    def reason(self) -> str:
        """The flag in words, with the numbers behind it."""
        average = f"{self.baseline_average:.1f}"
        if self.flag is Flag.SILENT:
            return f"no scans recently, after {average} a day before"
        if self.flag is Flag.SPIKING:
            return (
                f"{self.recent_peak} scans in a day, against {average} a day before "
                f"(flagged above {_number(self.spike_threshold)})"
            )
        if self.baseline_days == 0:
            return "too new to judge"
        return f"{average} scans a day before, {self.recent_total} recently"


@dataclass(frozen=True)
class Attention:
    """A flagged placement, its station or train loaded, with its health."""

    placement: Placement
    health: Health


def utc_day(now: datetime) -> date:
    """The UTC day of `now`: scans are counted per UTC day."""
    return now.astimezone(UTC).date()


def daily_scans(
    session: Session, placement_id: int, *, now: datetime, days: int
) -> list[tuple[date, int]]:
    """Scans per day over the last `days` days, today included, oldest first, zeros filled."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = utc_day(now)
    first = today - timedelta(days=days - 1)
    rows = session.execute(
        select(ScanCount.day, ScanCount.count).where(
            ScanCount.placement_id == placement_id,
            ScanCount.day >= first,
            ScanCount.day <= today,
        )
    )
    counts = {day: count for day, count in rows}
    return [(day, counts.get(day, 0)) for day in (first + timedelta(days=i) for i in range(days))]


def scans_in_last(
    session: Session, placement_ids: Collection[int], *, now: datetime, days: int = 7
) -> dict[int, int]:
    """Each placement's scans over the last `days` days, today included (0 when none)."""
    if not placement_ids:
        return {}
    today = utc_day(now)
    rows = session.execute(
        select(ScanCount.placement_id, func.sum(ScanCount.count))
        .where(
            ScanCount.placement_id.in_(placement_ids),
            ScanCount.day >= today - timedelta(days=days - 1),
            ScanCount.day <= today,
        )
        .group_by(ScanCount.placement_id)
    )
    totals = {pid: total for pid, total in rows}
    return {pid: int(totals.get(pid) or 0) for pid in placement_ids}


def assess(
    session: Session,
    *,
    now: datetime,
    rules: HealthRules,
    placement_ids: Collection[int] | None = None,
) -> dict[int, Health]:
    """The health of the given placements (default: every active one), by placement id.

    Retired placements are assessed when asked for by id, but never flagged.
    """
    today = utc_day(now)
    recent_start = today - timedelta(days=rules.silent_days - 1)
    first = recent_start - timedelta(days=rules.baseline_days)
    in_recent = ScanCount.day >= recent_start
    # Driven by the placements and joined on scan_count's primary key (placement, day), so the
    # cost follows the placements asked about times the window, not every count ever kept.
    query = (
        select(
            Placement.id,
            Placement.active,
            Placement.created_at,
            func.sum(case((in_recent, 0), else_=ScanCount.count)),
            func.sum(case((in_recent, ScanCount.count), else_=0)),
            func.max(case((in_recent, ScanCount.count), else_=0)),
        )
        .outerjoin(
            ScanCount,
            and_(
                ScanCount.placement_id == Placement.id,
                ScanCount.day >= first,
                ScanCount.day <= today,
            ),
        )
        .group_by(Placement.id, Placement.active, Placement.created_at)
    )
    if placement_ids is None:
        query = query.where(Placement.active.is_(True))
    else:
        query = query.where(Placement.id.in_(placement_ids))
    found: dict[int, Health] = {}
    for pid, active, created_at, baseline, recent, peak in session.execute(query):
        existed = (recent_start - utc_day(created_at)).days
        found[pid] = _judge(
            pid,
            active=active,
            baseline_days=max(0, min(rules.baseline_days, existed)),
            baseline_total=int(baseline or 0),
            recent_total=int(recent or 0),
            recent_peak=int(peak or 0),
            rules=rules,
        )
    return found


def needs_attention(
    session: Session,
    *,
    now: datetime,
    rules: HealthRules,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[Attention]:
    """The active placements flagged silent or spiking (of those `where` keeps): silent first,
    then by code."""
    flagged = {pid: h for pid, h in assess(session, now=now, rules=rules).items() if h.flag}
    if not flagged:
        return []
    placements: Sequence[Placement] = session.scalars(
        select(Placement)
        .where(Placement.id.in_(flagged), *where)
        .options(joinedload(Placement.station), joinedload(Placement.train))
    ).all()
    order = {Flag.SILENT: 0, Flag.SPIKING: 1}
    found = [Attention(placement=pl, health=flagged[pl.id]) for pl in placements]
    return sorted(found, key=lambda a: (order[a.health.flag or Flag.SILENT], a.placement.code))


def _number(value: float) -> str:
    """10 as "10", 27.142 as "27.1"."""
    return f"{value:.1f}".removesuffix(".0")


def _judge(
    pid: int,
    *,
    active: bool,
    baseline_days: int,
    baseline_total: int,
    recent_total: int,
    recent_peak: int,
    rules: HealthRules,
) -> Health:
    average = baseline_total / baseline_days if baseline_days else 0.0
    threshold = max(float(rules.spike_min), rules.spike_factor * average)
    flag: Flag | None = None
    if active and baseline_days:
        if recent_total == 0 and average >= rules.silent_min_average:
            flag = Flag.SILENT
        elif recent_peak > threshold:
            flag = Flag.SPIKING
    return Health(
        placement_id=pid,
        flag=flag,
        baseline_days=baseline_days,
        baseline_average=average,
        recent_total=recent_total,
        recent_peak=recent_peak,
        spike_threshold=threshold,
    )
