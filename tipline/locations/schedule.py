"""Where a train is at an instant: every run of its numbers under way (or, when none is, the
next to leave and the last to arrive), each with its last and next stops, by the timetable read
as GTFS says (in the agency's time zone) and, when fresh, by realtime delays."""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tipline.locations.models import (
    ServiceCalendar,
    ServiceException,
    Station,
    Train,
    Trip,
    TripStop,
)
from tipline.locations.realtime import Delays, TripDelay

log = logging.getLogger(__name__)

ADDED, REMOVED = 1, 2  # GTFS calendar_dates exception_type
DAY = 86_400
_STATUS_WORDS = {"under_way": "under way", "next": "next to leave", "last": "last to arrive"}
# How many stations before a run's last stop the traveler is also offered: a late train has
# not reached its scheduled last stop yet.
EARLIER_STOPS = 2


class RunStatus(enum.StrEnum):
    """Where a run stands at the instant asked about."""

    UNDER_WAY = "under_way"  # left its first stop, not yet at its last
    NEXT = "next"  # none under way: the next run to leave
    LAST = "last"  # none under way: the run that arrived most recently


@dataclass(frozen=True)
class StopCall:
    """A call at a station, at an aware UTC time (delayed when the run has a realtime delay)."""

    station_code: str
    station_name: str
    state: str | None
    timezone: str  # the station's, for showing the time as it reads there
    time: datetime
    scheduled: datetime  # by the timetable

    def local(self) -> datetime:
        """The time as the station's clocks show it."""
        return self.time.astimezone(zone(self.timezone))

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON and the tip's snapshot."""
        return {
            "code": self.station_code,
            "name": self.station_name,
            "state": self.state,
            "time": self.time.isoformat(),
            "local_time": self.local().isoformat(),
            "clock": self.local().strftime("%a %H:%M %Z"),  # "Wed 11:22 MST", as shown to staff
            "timezone": self.timezone,
            "scheduled": self.scheduled.isoformat(),
        }


@dataclass(frozen=True)
class Run:
    """One trip of one train number on one service date, and where it is at `at`."""

    train_number: str
    feed: str
    trip_id: str
    service_date: date
    route_name: str
    headsign: str | None
    status: RunStatus
    origin: StopCall
    destination: StopCall
    last: StopCall | None  # the stop it has reached or left most recently
    next: StopCall | None  # the stop it reaches next
    delay_seconds: int | None  # None: the timetable alone (no fresh realtime)
    realtime_at: datetime | None  # when the realtime delay was measured
    earlier: tuple[StopCall, ...] = ()  # the stops before `last`, nearest first

    @property
    def moving(self) -> bool:
        """Whether the run is between its first and last stops."""
        return self.status is RunStatus.UNDER_WAY

    @property
    def states(self) -> tuple[str, ...]:
        """The states of its last and next stops (a run not under way: where it stands)."""
        return tuple(dict.fromkeys(c.state for c in (self.last, self.next) if c and c.state))

    def timing(self) -> str:
        """How the times were got: "scheduled", or "23 min late, realtime"."""
        if self.delay_seconds is None:
            return "scheduled"
        minutes = round(self.delay_seconds / 60)
        if minutes == 0:
            return "on time, realtime"
        if minutes > 0:
            return f"{minutes} min late, realtime"
        return f"{-minutes} min early, realtime"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `trains where --json` and the tip's snapshot."""
        return {
            "status": str(self.status),
            "status_text": _STATUS_WORDS[str(self.status)],
            "train": self.train_number,
            "feed": self.feed,
            "trip_id": self.trip_id,
            "service_date": self.service_date.isoformat(),
            "route": self.route_name,
            "headsign": self.headsign,
            "origin": self.origin.as_dict(),
            "destination": self.destination.as_dict(),
            "last": self.last.as_dict() if self.last else None,
            "next": self.next.as_dict() if self.next else None,
            "timing": self.timing(),
            "delay_minutes": None if self.delay_seconds is None else round(self.delay_seconds / 60),
            "realtime_at": self.realtime_at.isoformat() if self.realtime_at else None,
        }


@dataclass(frozen=True)
class _Call:
    stop: TripStop
    arrives: datetime
    departs: datetime


@dataclass(frozen=True)
class _Timed:
    """One trip on one service date, its calls placed on the real clock."""

    trip: Trip
    service_date: date
    calls: tuple[_Call, ...]
    scheduled: tuple[_Call, ...]
    delay: TripDelay | None

    @property
    def departs(self) -> datetime:
        return self.calls[0].departs

    @property
    def arrives(self) -> datetime:
        return self.calls[-1].arrives


def service_day_origin(service_date: date, tz: ZoneInfo) -> datetime:
    """GTFS time zero of a service day: noon minus 12 h, which is not midnight on DST days."""
    # Aware datetime arithmetic in Python is wall-clock arithmetic, so step through UTC.
    noon = datetime(service_date.year, service_date.month, service_date.day, 12, tzinfo=tz)
    return noon.astimezone(UTC) - timedelta(hours=12)


def runs_on(calendar: ServiceCalendar | None, exceptions: dict[date, int], day: date) -> bool:
    """Whether a service runs on `day`: its weekly pattern and range, then calendar_dates."""
    if day in exceptions:
        return exceptions[day] == ADDED
    if calendar is None:
        return False
    if calendar.start_date is not None and day < calendar.start_date:
        return False
    if calendar.end_date is not None and day > calendar.end_date:
        return False
    return calendar.weekdays[day.weekday()] == "1"


def trip_zone(trip: Trip) -> ZoneInfo:
    """The zone a trip's stop times count in: its agency's (first stop's for old imports)."""
    return zone(trip.timezone or trip.stops[0].station.timezone)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """An IANA zone; UTC (logged) for a name the system does not know. Imports refuse such
    names, but a row written before they did must not turn every tip on a train into a 500."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        log.warning("unknown time zone %r in the schedule; reading it as UTC", name[:64])
        return ZoneInfo("UTC")


def load_trips(session: Session, trains: Sequence[Train]) -> list[Trip]:
    """The trains' trips with their timed calls and stations loaded."""
    ids = [train.id for train in trains]
    if not ids:
        return []
    trips = session.scalars(
        select(Trip)
        .where(Trip.train_id.in_(ids))
        .options(
            selectinload(Trip.stops).joinedload(TripStop.station),
            selectinload(Trip.train),
        )
        .order_by(Trip.id)
    ).all()
    return [trip for trip in trips if sum(1 for stop in trip.stops if _timed(stop)) >= 1]


def train_runs(
    session: Session,
    trains: Sequence[Train],
    now: datetime,
    *,
    delays: Delays | None = None,
) -> list[Run]:
    """Every run of these train numbers under way at `now`, the earliest to leave first; when
    none is, the last to arrive and the next to leave (either may be missing)."""
    trips = load_trips(session, trains)
    if not trips:
        return []
    timed = [_apply(run, delays, now) for run in _candidates(session, trips, now)]
    under_way = sorted(
        (run for run in timed if run.departs <= now < run.arrives), key=lambda r: r.departs
    )
    if under_way:
        return [_position(run, now, RunStatus.UNDER_WAY) for run in under_way]
    out = []
    finished = [run for run in timed if run.arrives <= now]
    if finished:
        out.append(_position(max(finished, key=lambda r: r.arrives), now, RunStatus.LAST))
    upcoming = [run for run in timed if run.departs > now]
    if upcoming:
        out.append(_position(min(upcoming, key=lambda r: r.departs), now, RunStatus.NEXT))
    return out


def route_stations(session: Session, trains: Sequence[Train]) -> list[Station]:
    """The stations the trains call at, in the order of their longest trip, then the rest."""
    trips = sorted(load_trips(session, trains), key=lambda t: -len(t.stops))
    seen: dict[int, Station] = {}
    for trip in trips:
        for stop in trip.stops:
            seen.setdefault(stop.station_id, stop.station)
    return list(seen.values())


def _timed(stop: TripStop) -> bool:
    return stop.arrival is not None or stop.departure is not None


def _candidates(session: Session, trips: Sequence[Trip], now: datetime) -> Iterable[_Timed]:
    """Every (trip, service date) that could be under way, about to leave or just done."""
    candidates: list[tuple[Trip, date]] = []
    for trip in trips:
        latest = max(
            max(stop.arrival or 0, stop.departure or 0) for stop in trip.stops if _timed(stop)
        )
        today = now.astimezone(trip_zone(trip)).date()
        # Times pass 24:00 (Amtrak has 80:35:00): a trip from three service days ago may still
        # be rolling, and one day more finds the run that last finished. Tomorrow's service
        # day starts at 23:00 today on a spring-forward eve; a late train runs past its time.
        for back in range(-1, latest // DAY + 3):
            candidates.append((trip, today - timedelta(days=back)))
    days = [day for _trip, day in candidates]
    calendars, exceptions = _services(session, trips, min(days), max(days))
    for trip, day in candidates:
        key = (trip.feed, trip.service_id)
        if runs_on(calendars.get(key), exceptions.get(key, {}), day):
            yield _place(trip, day)


def _services(
    session: Session, trips: Sequence[Trip], first: date, last: date
) -> tuple[dict[tuple[str, str], ServiceCalendar], dict[tuple[str, str], dict[date, int]]]:
    """The calendars of the trips' services, and their exceptions between two dates."""
    feeds = {trip.feed for trip in trips}
    service_ids = {trip.service_id for trip in trips}
    calendars = {
        (cal.feed, cal.service_id): cal
        for cal in session.scalars(
            select(ServiceCalendar).where(
                ServiceCalendar.feed.in_(feeds), ServiceCalendar.service_id.in_(service_ids)
            )
        )
    }
    exceptions: dict[tuple[str, str], dict[date, int]] = {}
    for exc in session.scalars(
        select(ServiceException).where(
            ServiceException.feed.in_(feeds),
            ServiceException.service_id.in_(service_ids),
            ServiceException.day.between(first, last),
        )
    ):
        exceptions.setdefault((exc.feed, exc.service_id), {})[exc.day] = exc.exception_type
    return calendars, exceptions


def _place(trip: Trip, service_date: date) -> _Timed:
    origin = service_day_origin(service_date, trip_zone(trip))
    calls = []
    for stop in trip.stops:
        if not _timed(stop):
            continue
        arrives = stop.arrival if stop.arrival is not None else stop.departure
        departs = stop.departure if stop.departure is not None else stop.arrival
        assert arrives is not None and departs is not None
        calls.append(
            _Call(stop, origin + timedelta(seconds=arrives), origin + timedelta(seconds=departs))
        )
    return _Timed(trip, service_date, tuple(calls), tuple(calls), None)


def _apply(run: _Timed, delays: Delays | None, now: datetime) -> _Timed:
    """The run with a fresh realtime delay applied to every call, if one is known."""
    if not delays:
        return run
    delay = delays.get(run.trip.feed, run.trip.trip_id, run.service_date)
    undated = delays.get(run.trip.feed, run.trip.trip_id, None)
    # Without a start date the producer means the run under way: the one that left last and
    # has not arrived (with half a day of slack for a late train).
    if (
        delay is None
        and undated is not None
        and run.departs <= now < run.arrives + timedelta(hours=12)
    ):
        delay = undated
    if delay is None:
        return run
    found = delay.per_call(
        [
            (c.stop.stop_sequence, {c.stop.stop_id, c.stop.station.stop_id}, c.arrives, c.departs)
            for c in run.calls
        ]
    )
    if found is None:
        return run
    arrivals, departures = found
    calls = tuple(
        _Call(call.stop, call.arrives + timedelta(seconds=a), call.departs + timedelta(seconds=d))
        for call, a, d in zip(run.calls, arrivals, departures, strict=True)
    )
    return replace(run, calls=calls, delay=delay)


def _position(run: _Timed, now: datetime, status: RunStatus) -> Run:
    pairs = list(zip(run.calls, run.scheduled, strict=True))
    # A train dwelling at a station (Amtrak's 66 waits three hours in Philadelphia) is there,
    # not between its neighbours: its last stop is the one it has reached, timed by its arrival
    # until it leaves.
    reached = [i for i, (call, _s) in enumerate(pairs) if call.arrives <= now]
    last = None
    earlier: list[StopCall] = []
    if reached:
        index = reached[-1]
        call, sched = pairs[index]
        dwelling = call.departs > now
        last = _stop(
            call.stop,
            call.arrives if dwelling else call.departs,
            sched.arrives if dwelling else sched.departs,
        )
        earlier = [_stop(c.stop, c.departs, s.departs) for c, s in reversed(pairs[:index])][
            :EARLIER_STOPS
        ]
    upcoming = next(
        (_stop(c.stop, c.arrives, s.arrives) for c, s in pairs if c.arrives > now), None
    )
    first, final = pairs[0], pairs[-1]
    delay_seconds = None
    if run.delay is not None:
        # The delay where the train is now: at its next stop, else where it stands.
        ref = upcoming or last or _stop(final[0].stop, final[0].arrives, final[1].arrives)
        delay_seconds = round((ref.time - ref.scheduled).total_seconds())
    return Run(
        train_number=run.trip.train.number,
        feed=run.trip.feed,
        trip_id=run.trip.trip_id,
        service_date=run.service_date,
        route_name=run.trip.route_name,
        headsign=run.trip.headsign,
        status=status,
        origin=_stop(first[0].stop, first[0].departs, first[1].departs),
        destination=_stop(final[0].stop, final[0].arrives, final[1].arrives),
        last=last,
        next=upcoming,
        delay_seconds=delay_seconds,
        realtime_at=run.delay.observed_at if run.delay else None,
        earlier=tuple(earlier),
    )


def _stop(stop: TripStop, time: datetime, scheduled: datetime) -> StopCall:
    return StopCall(
        station_code=stop.station.code,
        station_name=stop.station.name,
        state=stop.station.state,
        timezone=stop.station.timezone,
        time=time,
        scheduled=scheduled,
    )


def describe(run: dict[str, Any]) -> str:
    """One line for a stored run (Run.as_dict()): "5 of 2026-12-01, under way: Granby (GRA) →
    Glenwood Springs (GSC), scheduled"."""
    first = run.get("last") or run.get("origin") or {}
    second = run.get("next") or run.get("destination") or {}
    return (
        f"{run.get('train')} of {run.get('service_date')}, "
        f"{_STATUS_WORDS.get(run.get('status', ''), run.get('status'))}: "
        f"{first.get('name')} ({first.get('code')}) → {second.get('name')} ({second.get('code')})"
        f", {run.get('timing', 'scheduled')}"
    )
