"""GTFS-realtime TripUpdates: a URL per feed, polled into delays that positions use while fresh.

The poll is `poll_once(app)`: the `tipline gtfs realtime poll` command loops over it, the web
processes may run it in a thread (TIPLINE_REALTIME_INLINE), and any worker may call it. Each
feed's poll is claimed with one conditional UPDATE, so several pollers never fetch a feed twice
in one interval. A feed that is down, empty or malformed records its error and leaves the last
good delays to age out: a position then says "scheduled", never fails.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from tipline.config import get_settings
from tipline.db import session_scope, utcnow
from tipline.locations.models import RealtimeFeed, RealtimeTrip, Station, Train, Trip

log = logging.getLogger(__name__)

# GTFS-realtime TripDescriptor.ScheduleRelationship: CANCELED (3) runs carry no delays.
_CANCELED = 3
# StopTimeUpdate.ScheduleRelationship: SKIPPED (1) and NO_DATA (2) carry no times.
_NO_TIMES = (1, 2)
# No train is two days late or early: a larger delay is a producer's error, ignored.
MAX_DELAY = 2 * 86_400


class RealtimeError(ValueError):
    """A realtime URL or feed name that cannot be used."""


@dataclass(frozen=True)
class StopDelay:
    """One StopTimeUpdate: which call (by stop_sequence or stop id) and its delay or time."""

    stop_sequence: int | None
    stop_id: str | None
    arrival_delay: int | None
    departure_delay: int | None
    arrival_time: int | None  # POSIX seconds
    departure_time: int | None

    def as_list(self) -> list[Any]:
        """As stored in RealtimeTrip.stops."""
        return [
            self.stop_sequence,
            self.stop_id,
            self.arrival_delay,
            self.departure_delay,
            self.arrival_time,
            self.departure_time,
        ]


# (the feed's stop_sequence, the ids it may name the stop by, scheduled arrival, departure)
CallKey = tuple[int | None, set[str | None], datetime, datetime]


@dataclass(frozen=True)
class TripDelay:
    """A run's realtime updates, measured at `observed_at`."""

    stops: tuple[StopDelay, ...]
    delay: int | None  # trip-wide, when the producer gives one
    observed_at: datetime

    def per_call(self, calls: Sequence[CallKey]) -> tuple[list[int], list[int]] | None:
        """Arrival and departure delays (seconds) for every call, propagated as GTFS-realtime
        says (a delay holds for the calls after it until the next update); None: no match."""
        matched: dict[int, tuple[int, int]] = {}
        for stop in self.stops:
            index = _call_index(stop, calls)
            if index is None:
                continue
            _seq, _ids, arrives, departs = calls[index]
            arrival = _seconds(stop.arrival_delay, stop.arrival_time, arrives)
            departure = _seconds(stop.departure_delay, stop.departure_time, departs)
            if arrival is None and departure is None:
                continue
            arrival = arrival if arrival is not None else departure
            departure = departure if departure is not None else arrival
            assert arrival is not None and departure is not None
            matched[index] = (arrival, departure)
        if not matched:
            if self.delay is None:
                return None
            return [self.delay] * len(calls), [self.delay] * len(calls)
        # Calls before the first update: assume the train was as late there (it is how late
        # it is now that places it between them).
        current = matched[min(matched)][0]
        arrivals, departures = [], []
        for index in range(len(calls)):
            if index in matched:
                arrival, departure = matched[index]
                current = departure
            else:
                arrival = departure = current
            arrivals.append(arrival)
            departures.append(max(departure, arrival))
        return arrivals, departures


def _call_index(update: StopDelay, calls: Sequence[CallKey]) -> int | None:
    for index, (sequence, ids, _a, _d) in enumerate(calls):
        if update.stop_sequence is not None:
            if sequence == update.stop_sequence:
                return index
        elif update.stop_id is not None and update.stop_id in ids:
            return index
    return None


def _seconds(delay: int | None, when: int | None, scheduled: datetime) -> int | None:
    if delay is None and when is not None:
        delay = round(when - scheduled.timestamp())
    if delay is None or abs(delay) > MAX_DELAY:
        return None
    return delay


class Delays:
    """Fresh realtime delays by (feed, trip_id, start date); a None date: the run under way."""

    def __init__(self, found: dict[tuple[str, str, date | None], TripDelay] | None = None) -> None:
        self._found = found or {}

    def __bool__(self) -> bool:
        return bool(self._found)

    def __len__(self) -> int:
        return len(self._found)

    def get(self, feed: str, trip_id: str, start_date: date | None) -> TripDelay | None:
        """The delay of one run, if a fresh one is known."""
        return self._found.get((feed, trip_id, start_date))


def fresh_delays(
    session: Session, trains: Sequence[Train], now: datetime, *, max_age: float
) -> Delays:
    """Delays of the trains' trips measured less than `max_age` seconds before `now`."""
    if not trains:
        return Delays()
    feeds = {train.feed for train in trains}
    trips = select(Trip.trip_id).where(Trip.train_id.in_([train.id for train in trains]))
    rows = session.scalars(
        select(RealtimeTrip).where(
            RealtimeTrip.feed.in_(feeds),
            RealtimeTrip.trip_id.in_(trips),
            RealtimeTrip.observed_at > now - timedelta(seconds=max_age),
            RealtimeTrip.observed_at <= now + timedelta(seconds=60),
        )
    )
    found = {}
    for row in rows:
        stops = tuple(StopDelay(*values) for values in row.stops)
        found[(row.feed, row.trip_id, row.start_date)] = TripDelay(
            stops, row.delay, row.observed_at
        )
    return Delays(found)


# --- feeds and their URLs ------------------------------------------------------------------


def set_url(session: Session, feed: str, url: str, *, now: datetime) -> RealtimeFeed:
    """Name (or change) the TripUpdates URL of an imported feed; polled from the next pass."""
    feed = feed.strip().lower()
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RealtimeError(f"{url!r} is not an http(s) URL")
    if len(url) > 2000:
        raise RealtimeError("the URL is longer than 2,000 characters")
    known = session.scalar(select(Station.feed).where(Station.feed == feed).limit(1))
    if known is None:
        raise RealtimeError(f"no feed {feed!r} has been imported (see `tipline stations list`)")
    row = session.get(RealtimeFeed, feed)
    if row is None:
        row = RealtimeFeed(feed=feed, url=url, added_at=now, trips=0)
        session.add(row)
    elif row.url != url:
        row.url, row.error, row.next_poll_at = url, None, None
    session.flush()
    return row


def remove_url(session: Session, feed: str) -> bool:
    """Stop polling a feed and forget its delays; False when it had no URL."""
    row = session.get(RealtimeFeed, feed.strip().lower())
    if row is None:
        return False
    session.execute(delete(RealtimeTrip).where(RealtimeTrip.feed == row.feed))
    session.delete(row)
    session.flush()
    return True


def list_feeds(session: Session) -> list[RealtimeFeed]:
    """Every feed with a realtime URL, by name."""
    return list(session.scalars(select(RealtimeFeed).order_by(RealtimeFeed.feed)))


# --- polling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollResult:
    """What one feed's poll did."""

    feed: str
    trips: int  # trip updates stored (0 on error)
    error: str | None


@dataclass(frozen=True)
class Parsed:
    """A decoded TripUpdates message."""

    timestamp: datetime | None
    trips: list[tuple[str, date | None, TripDelay]]


Fetch = Callable[[str, float, int], bytes]


def fetch(url: str, timeout: float, limit: int) -> bytes:
    """GET `url`; at most `limit` bytes, else RealtimeError."""
    request = urllib.request.Request(  # noqa: S310 (the scheme was checked by set_url)
        url, headers={"Accept": "application/x-protobuf, application/octet-stream"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise RealtimeError(f"HTTP {exc.code} from the feed") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RealtimeError(f"cannot fetch: {reason}") from None
    if len(body) > limit:
        raise RealtimeError(f"the response is larger than {limit} bytes")
    return body


def parse(body: bytes, fetched_at: datetime) -> Parsed:
    """Decode a FeedMessage of TripUpdates; RealtimeError when it is empty or malformed."""
    from google.protobuf.message import DecodeError
    from google.transit import gtfs_realtime_pb2

    if not body:
        raise RealtimeError("empty response")
    message = gtfs_realtime_pb2.FeedMessage()
    try:
        message.ParseFromString(body)
    except DecodeError:
        raise RealtimeError("not a GTFS-realtime message (malformed protobuf)") from None
    if not message.IsInitialized() or not message.HasField("header"):
        raise RealtimeError("not a GTFS-realtime message (no header)")
    header_time = _when(message.header.timestamp, fetched_at)
    trips = []
    for entity in message.entity:
        if not entity.HasField("trip_update") or entity.is_deleted:
            continue
        update = entity.trip_update
        descriptor = update.trip
        if not descriptor.trip_id or descriptor.schedule_relationship == _CANCELED:
            continue
        start = _date(descriptor.start_date) if descriptor.HasField("start_date") else None
        if descriptor.HasField("start_date") and start is None:
            continue  # a date that is no date: which run it means is unknown
        stops = tuple(
            StopDelay(
                stop_sequence=s.stop_sequence if s.HasField("stop_sequence") else None,
                stop_id=s.stop_id if s.HasField("stop_id") else None,
                arrival_delay=_event(s, "arrival", "delay"),
                departure_delay=_event(s, "departure", "delay"),
                arrival_time=_event(s, "arrival", "time"),
                departure_time=_event(s, "departure", "time"),
            )
            for s in update.stop_time_update
            if s.schedule_relationship not in _NO_TIMES
        )
        delay = update.delay if update.HasField("delay") else None
        if delay is not None and abs(delay) > MAX_DELAY:
            delay = None
        observed = _when(update.timestamp, fetched_at) if update.HasField("timestamp") else None
        observed = observed or header_time or fetched_at
        trips.append((descriptor.trip_id[:128], start, TripDelay(stops, delay, observed)))
    return Parsed(header_time, trips)


def _event(update: Any, kind: str, field: str) -> int | None:
    if not update.HasField(kind):
        return None
    event = getattr(update, kind)
    return int(getattr(event, field)) if event.HasField(field) else None


def _when(posix: int, fetched_at: datetime) -> datetime | None:
    """A producer's timestamp, never later than when we fetched it (a fast clock must not make
    old data look fresh)."""
    if not posix:
        return None
    try:
        moment = datetime.fromtimestamp(posix, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return min(moment, fetched_at)


def _date(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 else None
    except ValueError:
        return None


def poll_once(app: Flask, *, fetcher: Fetch = fetch, force: bool = False) -> list[PollResult]:
    """Poll every feed whose turn has come (all of them with `force`); store fresh delays."""
    settings = get_settings(app)
    now = _now(app)
    with session_scope(app) as session:
        due = [
            (row.feed, row.url)
            for row in list_feeds(session)
            if force or row.next_poll_at is None or row.next_poll_at <= now
        ]
    results = []
    for feed, url in due:
        if not _claim(app, feed, now, settings.realtime_poll_seconds, force):
            continue  # another poller took this turn
        results.append(_poll(app, feed, url, fetcher))
    return results


def _claim(app: Flask, feed: str, now: datetime, interval: float, force: bool) -> bool:
    due = or_(RealtimeFeed.next_poll_at.is_(None), RealtimeFeed.next_poll_at <= now)
    with session_scope(app) as session:
        claimed = session.execute(
            update(RealtimeFeed)
            .where(RealtimeFeed.feed == feed, *(() if force else (due,)))
            .values(next_poll_at=now + timedelta(seconds=interval))
        )
        return bool(claimed.rowcount)  # type: ignore[attr-defined]


def _poll(app: Flask, feed: str, url: str, fetcher: Fetch) -> PollResult:
    settings = get_settings(app)
    fetched_at = _now(app)
    try:
        body = fetcher(url, settings.realtime_timeout_seconds, settings.realtime_max_bytes)
        parsed = parse(body, fetched_at)
    except RealtimeError as exc:
        _record(app, feed, fetched_at, error=str(exc)[:500])
        return PollResult(feed, 0, str(exc))
    with session_scope(app) as session:
        session.execute(delete(RealtimeTrip).where(RealtimeTrip.feed == feed))
        rows = {}
        for trip_id, start, delay in parsed.trips:
            # One row per run: a message repeating a trip keeps its last update.
            rows[(trip_id, start)] = {
                "feed": feed,
                "trip_id": trip_id,
                "start_date": start,
                "stops": [s.as_list() for s in delay.stops],
                "delay": delay.delay,
                "observed_at": delay.observed_at,
            }
        if rows:
            session.execute(insert(RealtimeTrip), list(rows.values()))
        session.execute(
            update(RealtimeFeed)
            .where(RealtimeFeed.feed == feed)
            .values(
                polled_at=fetched_at,
                ok_at=fetched_at,
                feed_timestamp=parsed.timestamp,
                trips=len(rows),
                error=None,
            )
        )
    return PollResult(feed, len(rows), None)


def _now(app: Flask) -> datetime:
    """The app's clock (tests set app.config["CLOCK"]), else the real one."""
    custom: Callable[[], datetime] | None = app.config.get("CLOCK")
    return custom() if custom is not None else utcnow()


def _record(app: Flask, feed: str, at: datetime, *, error: str) -> None:
    with session_scope(app) as session:
        session.execute(
            update(RealtimeFeed).where(RealtimeFeed.feed == feed).values(polled_at=at, error=error)
        )


def poll_and_log(app: Flask) -> None:
    """One background pass: poll every due feed, logging feed names and errors only."""
    for result in poll_once(app):
        if result.error:
            # A poll carries no tip content: the feed's name and what went wrong.
            log.warning("realtime feed %s: %s", result.feed, result.error)
