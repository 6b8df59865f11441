"""Where a train is by its timetable: the trip running at a moment, its last and next stops."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tipline.locations.models import (
    ServiceCalendar,
    ServiceException,
    Train,
    Trip,
    TripStop,
)

ADDED, REMOVED = 1, 2  # GTFS calendar_dates exception_type
DAY = 86_400


@dataclass(frozen=True)
class StopCall:
    """A scheduled call at a station, with its time as an aware UTC datetime."""

    station_code: str
    station_name: str
    state: str | None
    time: datetime


@dataclass(frozen=True)
class TrainPosition:
    """The trip a train number is running at a moment, and where it is on that trip."""

    trip_id: str
    service_date: date
    route_name: str
    headsign: str | None
    last: StopCall | None
    next: StopCall | None
    moving: bool
    route_states: tuple[str, ...]


@dataclass(frozen=True)
class _Run:
    """One trip on one service date, its calls placed on the real clock."""

    trip: Trip
    service_date: date
    calls: tuple[tuple[TripStop, datetime, datetime], ...]  # (stop, arrives, departs)

    @property
    def departs(self) -> datetime:
        return self.calls[0][2]

    @property
    def arrives(self) -> datetime:
        return self.calls[-1][1]


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


def train_position(session: Session, train: Train, now: datetime) -> TrainPosition | None:
    """The train's scheduled position at `now`: the trip in progress, else today's next, else
    the one that most recently finished; None when it runs no trip around `now`."""
    trips = session.scalars(
        select(Trip)
        .where(Trip.train_id == train.id)
        .options(selectinload(Trip.stops).joinedload(TripStop.station))
        .order_by(Trip.id)
    ).all()
    trips = [trip for trip in trips if any(_timed(stop) for stop in trip.stops)]
    if not trips:
        return None
    runs = list(_runs(session, trips, now))
    in_progress = [run for run in runs if run.departs <= now < run.arrives]
    if in_progress:
        return _position(max(in_progress, key=lambda run: run.departs), now)
    today = [
        run for run in runs if run.departs > now and run.service_date == _local_date(run.trip, now)
    ]
    if today:
        return _position(min(today, key=lambda run: run.departs), now)
    finished = [run for run in runs if run.arrives <= now]
    if finished:
        return _position(max(finished, key=lambda run: run.arrives), now)
    return None


def _timed(stop: TripStop) -> bool:
    return stop.arrival is not None or stop.departure is not None


def _tz(trip: Trip) -> ZoneInfo:
    return ZoneInfo(trip.stops[0].station.timezone)


def _local_date(trip: Trip, now: datetime) -> date:
    return now.astimezone(_tz(trip)).date()


def _runs(session: Session, trips: Sequence[Trip], now: datetime) -> Iterable[_Run]:
    """Every (trip, service date) that could be under way, about to leave or just done."""
    candidates: list[tuple[Trip, date]] = []
    for trip in trips:
        latest = max(
            max(stop.arrival or 0, stop.departure or 0) for stop in trip.stops if _timed(stop)
        )
        today = _local_date(trip, now)
        # Times pass 24:00 (Amtrak has 80:35:00): a trip from three service days ago may still
        # be rolling, and one day more finds the run that last finished. Tomorrow's service
        # day starts at 23:00 today on a spring-forward eve.
        for back in range(-1, latest // DAY + 2):
            candidates.append((trip, today - timedelta(days=back)))
    if not candidates:
        return
    days = [day for _trip, day in candidates]
    calendars, exceptions = _services(session, trips, min(days), max(days))
    for trip, day in candidates:
        key = (trip.feed, trip.service_id)
        if runs_on(calendars.get(key), exceptions.get(key, {}), day):
            yield _run(trip, day)


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


def _run(trip: Trip, service_date: date) -> _Run:
    origin = service_day_origin(service_date, _tz(trip))
    calls = []
    for stop in trip.stops:
        if not _timed(stop):
            continue
        arrives = stop.arrival if stop.arrival is not None else stop.departure
        departs = stop.departure if stop.departure is not None else stop.arrival
        assert arrives is not None and departs is not None
        calls.append(
            (stop, origin + timedelta(seconds=arrives), origin + timedelta(seconds=departs))
        )
    return _Run(trip=trip, service_date=service_date, calls=tuple(calls))


def _position(run: _Run, now: datetime) -> TrainPosition:
    # A train dwelling at a station (Amtrak's 66 waits three hours in Philadelphia) is there,
    # not between its neighbours: its last stop is the one it has reached, timed by its arrival
    # until it leaves.
    last = next(
        (
            _call(stop, departs if departs <= now else arrives)
            for stop, arrives, departs in reversed(run.calls)
            if arrives <= now
        ),
        None,
    )
    upcoming = next(
        (_call(stop, arrives) for stop, arrives, _dep in run.calls if arrives > now), None
    )
    states: list[str] = []
    for stop in run.trip.stops:
        if stop.station.state and stop.station.state not in states:
            states.append(stop.station.state)
    return TrainPosition(
        trip_id=run.trip.trip_id,
        service_date=run.service_date,
        route_name=run.trip.route_name,
        headsign=run.trip.headsign,
        last=last,
        next=upcoming,
        moving=run.departs <= now < run.arrives,
        route_states=tuple(states),
    )


def _call(stop: TripStop, time: datetime) -> StopCall:
    return StopCall(
        station_code=stop.station.code,
        station_name=stop.station.name,
        state=stop.station.state,
        time=time,
    )
