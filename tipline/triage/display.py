"""How the desk shows a tip in words: place, ages, local times, deadlines, short indicators.

Plain functions of a tip and the time, shared by the queue, the tip page and the alerts (which
must not depend on queue reads just to say where a tip came from).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.intake.models import Priority, Tip, TipStatus
from tipline.locations import regions
from tipline.locations.models import Station

SHORT_INDICATORS = {
    "holds_documents": "holds ID/money",
    "answers_for_them": "answers for them",
    "not_free": "not free",
    "unsure_destination": "no destination",
    "few_belongings": "few belongings",
    "young_group_older_adult": "young group + adult",
    "child_not_theirs": "child not theirs",
    "much_older_partner": "older partner",
    "threatened": "threatened",
    "injuries": "injuries",
    "branding": "branding",
    "drugged_exhausted": "drugged/exhausted",
    "clothing": "clothing",
    "fearful": "fearful",
    "avoids_staff": "avoids staff",
    "minor_commercial_sex": "MINOR",
}


class Placed(Protocol):
    """What the display reads of a tip: a Tip, or a queue row's columns (queue.QueueTip)."""

    @property
    def received_at(self) -> datetime: ...
    @property
    def priority(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def state(self) -> str | None: ...
    @property
    def station_code(self) -> str | None: ...
    @property
    def station_name(self) -> str | None: ...
    @property
    def train_number(self) -> str | None: ...
    @property
    def last_stop_code(self) -> str | None: ...
    @property
    def next_stop_code(self) -> str | None: ...
    @property
    def next_stop_name(self) -> str | None: ...
    @property
    def next_stop_time(self) -> datetime | None: ...
    @property
    def typed_place(self) -> str | None: ...


def short_indicator(key: str) -> str:
    """A few words for an indicator in a queue row."""
    return SHORT_INDICATORS.get(key, key.replace("_", " "))


def station_timezones(session: Session, codes: set[str | None]) -> dict[str, str]:
    """The time zone of each station code (stop times show in the station's local time)."""
    wanted = sorted(c for c in codes if c)
    if not wanted:
        return {}
    rows = session.execute(select(Station.code, Station.timezone).where(Station.code.in_(wanted)))
    return {code: tz for code, tz in rows}


def zone_codes(tip: Placed) -> set[str | None]:
    """The station codes whose zones `zone_of` looks at."""
    return {tip.station_code, tip.last_stop_code, tip.next_stop_code}


def zone_of(tip: Placed, timezones: dict[str, str]) -> str | None:
    """The tip's local zone: its station's (a train's: its last or next stop's, from
    `timezones`), else its state's or province's usual zone; None when the place is unknown."""
    for code in (tip.station_code, tip.last_stop_code, tip.next_stop_code):
        if code and code in timezones:
            return timezones[code]
    region = regions.find(tip.state)
    return region.timezone if region is not None and region.country is not None else None


def tip_timezone(session: Session, tip: Tip) -> str | None:
    """`zone_of` the tip, reading its stations' zones."""
    return zone_of(tip, station_timezones(session, zone_codes(tip)))


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def stamp(
    moment: datetime, zone: str | None, *, mine: str | None = None, fmt: str = "%Y-%m-%d %H:%M"
) -> str:
    """`moment` in the tip's zone with its abbreviation ("2026-06-15 08:00 EDT"), and in the
    reader's own zone where that reads differently ("… · 14:00 CEST yours"); UTC when the
    tip's zone is unknown."""
    there = _zone(zone) or UTC
    shown = moment.astimezone(there)
    text = f"{shown.strftime(fmt)} {shown.strftime('%Z')}"
    own = _zone(mine)
    if own is not None:
        yours = moment.astimezone(own)
        if yours.strftime("%H:%M %Z") != shown.strftime("%H:%M %Z"):
            text += f" · {yours.strftime('%H:%M %Z')} yours"
    return text


def is_overdue(tip: Placed, now: datetime, *, urgent_minutes: float, other_hours: float) -> bool:
    """True when `tip` is still unacknowledged past its deadline."""
    if tip.status != TipStatus.NEW:
        return False
    limit = (
        timedelta(minutes=urgent_minutes)
        if tip.priority == Priority.URGENT
        else timedelta(hours=other_hours)
    )
    return now - tip.received_at > limit


def age(received_at: datetime, now: datetime) -> str:
    """How long ago, in the largest whole unit: "12 min", "3 h", "2 d"."""
    seconds = max(0, int((now - received_at).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86_400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86_400} d"


def local_time(moment: datetime, tz_name: str | None) -> str:
    """HH:MM in a station's time zone ("14:05"), or in UTC, marked, when it is unknown."""
    if tz_name:
        try:
            return moment.astimezone(ZoneInfo(tz_name)).strftime("%H:%M")
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return moment.astimezone(UTC).strftime("%H:%M UTC")


def stamp_utc(moment: datetime, zone: str | None) -> str:
    """For text that leaves the desk (alert emails, packets): "2026-06-15 08:00 EDT (12:00
    UTC)", or the UTC time alone when the tip's zone is unknown."""
    if _zone(zone) is None:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{stamp(moment, zone)} ({moment.astimezone(UTC):%H:%M} UTC)"


def place_label(tip: Placed, timezones: dict[str, str], *, typed: bool = True) -> str:
    """Where a tip came from in one line: a station, or a train and its next stop."""
    if tip.station_code or tip.station_name:
        name = tip.station_name or tip.station_code
        return f"{name} ({tip.station_code})" if tip.station_code else str(name)
    if tip.train_number:
        label = f"Train {tip.train_number}"
        if tip.next_stop_name and tip.next_stop_time:
            when = local_time(tip.next_stop_time, timezones.get(tip.next_stop_code or ""))
            label += f" → next: {tip.next_stop_name} {when}"
        return label
    # What the traveler typed is tip content: shown to staff, never put in an alert.
    if typed and tip.typed_place:
        return f"“{tip.typed_place}” (typed)"
    return "Place unknown"


class _QueueTip(Placed, Protocol):
    """A queue row's tip (queue.QueueTip)."""

    @property
    def id(self) -> int: ...
    @property
    def in_burst(self) -> bool: ...
    @property
    def indicators(self) -> list[str]: ...
    @property
    def assignee_id(self) -> int | None: ...


class _Page(Protocol):
    """What `queue_rows` reads of a queue page (tipline.triage.queue.QueuePage)."""

    @property
    def tips(self) -> Sequence[_QueueTip]: ...
    @property
    def assignees(self) -> Mapping[int, str]: ...
    @property
    def jurisdictions(self) -> Mapping[int, Sequence[str]]: ...
    @property
    def timezones(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class QueueRow:
    """One row of the queue table in words, ready to print."""

    tip_id: int
    url: str
    received_iso: str  # the <time datetime=...> value
    age: str
    received: str  # received, in the tip's local time (and the reader's)
    overdue: bool
    urgent: bool
    priority: str
    status: str
    place: str
    in_burst: bool
    jurisdictions: str
    indicators: str
    assignee: str


def queue_rows(
    page: _Page,
    now: datetime,
    *,
    tip_url: str,
    mine: str | None,
    urgent_minutes: float,
    other_hours: float,
) -> list[QueueRow]:
    """The queue table's rows: formatted here in one pass rather than a dozen template calls
    per row (the queue refreshes itself on every desk; its rendering is most of its cost).
    `tip_url` is the tip page's address without the number."""
    zones = dict(page.timezones)
    rows = []
    for tip in page.tips:
        rows.append(
            QueueRow(
                tip_id=tip.id,
                url=f"{tip_url}{tip.id}",
                received_iso=tip.received_at.isoformat(timespec="seconds"),
                age=age(tip.received_at, now),
                received=stamp(tip.received_at, zone_of(tip, zones), mine=mine, fmt="%H:%M"),
                overdue=is_overdue(
                    tip, now, urgent_minutes=urgent_minutes, other_hours=other_hours
                ),
                urgent=tip.priority == Priority.URGENT,
                priority=Priority(tip.priority).name.lower(),
                status=str(tip.status),
                place=place_label(tip, zones),
                in_burst=bool(tip.in_burst),
                jurisdictions=", ".join(page.jurisdictions.get(tip.id, ())),
                indicators=", ".join(short_indicator(i) for i in tip.indicators or ()),
                assignee=page.assignees.get(tip.assignee_id, "") if tip.assignee_id else "",
            )
        )
    return rows
