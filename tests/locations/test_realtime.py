"""GTFS-realtime TripUpdates, served by a real local HTTP server as protobuf built here: fresh
delays move a train and say so; stale, empty, malformed or unreachable feeds never break a
position or a tip."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result
from flask import Flask
from google.transit import gtfs_realtime_pb2
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import Clock, make_test_app
from tipline import background
from tipline.accounts.models import AuditEvent
from tipline.config import update_settings
from tipline.db import Database
from tipline.intake.lookup import Poster
from tipline.intake.services import locate
from tipline.locations import realtime
from tipline.locations.models import RealtimeFeed, RealtimeTrip, Train

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 6, 10, 8, 40, tzinfo=NY).astimezone(UTC)  # 171 is between NWK and PHL


class Feed:
    """What the local server answers: a body and a status; it counts the requests."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.requests = 0
        self.url = ""


@pytest.fixture
def served() -> Iterator[Feed]:
    """A TripUpdates endpoint on 127.0.0.1, stopped after the test."""
    feed = Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            feed.requests += 1
            self.send_response(feed.status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(feed.body)))
            self.end_headers()
            self.wfile.write(feed.body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    feed.url = f"http://127.0.0.1:{server.server_address[1]}/tripupdates.pb"
    yield feed
    server.shutdown()
    server.server_close()


def message(
    *updates: tuple[str, str | None, list[tuple[int | None, str | None, int]]],
    at: datetime = NOW,
) -> bytes:
    """A FeedMessage: (trip_id, start_date, [(stop_sequence, stop_id, delay s)]) per trip."""
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = int(at.timestamp())
    for n, (trip_id, start, stops) in enumerate(updates):
        entity = msg.entity.add()
        entity.id = str(n)
        entity.trip_update.trip.trip_id = trip_id
        if start:
            entity.trip_update.trip.start_date = start
        for sequence, stop_id, delay in stops:
            stu = entity.trip_update.stop_time_update.add()
            if sequence is not None:
                stu.stop_sequence = sequence
            if stop_id is not None:
                stu.stop_id = stop_id
            stu.arrival.delay = delay
            stu.departure.delay = delay
    return msg.SerializeToString()


def hms(hours: int, minutes: int = 0) -> int:
    return hours * 3600 + minutes * 60


def day_train(session: Session) -> Train:
    """NYP 08:00 -> NWK 08:20/08:25 -> PHL 09:30 on feed "test", daily."""
    nyp = factories.station(session)
    nwk = factories.station(session, **factories.NWK)
    phl = factories.station(session, **factories.PHL)
    stops = [(nyp, None, hms(8)), (nwk, hms(8, 20), hms(8, 25)), (phl, hms(9, 30), None)]
    train = factories.train(session, number="171", stops=stops)
    session.commit()
    return train


@pytest.fixture
def clock(app: Flask) -> Clock:
    """The app's clock, at NOW."""
    tick = Clock(NOW)
    app.config["CLOCK"] = tick
    return tick


def where(invoke: Callable[..., Result], at: datetime = NOW) -> dict[str, object]:
    result = invoke("trains", "where", "171", "--at", at.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_a_fresh_delay_moves_the_train_and_says_so(
    app: Flask,
    session: Session,
    served: Feed,
    clock: Clock,
    invoke: Callable[..., Result],
) -> None:
    day_train(session)
    assert invoke("gtfs", "realtime", "set", "test", served.url).exit_code == 0
    served.body = message(("171-daily", "20260610", [(None, "NWK", 23 * 60)]))
    (result,) = realtime.poll_once(app)
    assert (result.feed, result.trips, result.error) == ("test", 1, None)

    (run,) = where(invoke)["runs"]  # type: ignore[misc]
    assert run["timing"] == "23 min late, realtime" and run["delay_minutes"] == 23
    # 23 minutes late it has not reached Newark yet: last NYP, next NWK at 08:43.
    assert (run["last"]["code"], run["next"]["code"]) == ("NYP", "NWK")
    assert run["next"]["local_time"] == "2026-06-10T08:43:00-04:00"
    assert run["next"]["scheduled"] == "2026-06-10T12:20:00+00:00"

    # Six minutes later the same delay is stale: the timetable again, and it says so.
    (run,) = where(invoke, NOW + timedelta(minutes=6))["runs"]  # type: ignore[misc]
    assert run["timing"] == "scheduled"
    assert (run["last"]["code"], run["next"]["code"]) == ("NWK", "PHL")


def test_a_tip_keeps_the_realtime_position_it_was_sent_with(
    app: Flask, session: Session, served: Feed, clock: Clock
) -> None:
    train = day_train(session)
    pl = factories.placement(session, train=train, spot="Car 2")
    session.commit()
    with app.app_context():
        realtime.set_url(session, "test", served.url, now=NOW)
        session.commit()
    served.body = message(("171-daily", "20260610", [(2, None, 30 * 60)]))
    for stop in train.trips[0].stops:
        stop.stop_sequence = (stop.seq + 1) * 1  # the feed's own numbering: 1, 2, 3
    session.commit()
    assert realtime.poll_once(app)[0].trips == 1
    location = locate(session, Poster.of(pl), NOW, realtime_max_age=300)
    (run,) = location.columns["train_runs"]
    assert run["timing"] == "30 min late, realtime"
    assert location.columns["next_stop_code"] == "NWK"
    assert location.jurisdictions == ("NJ", "NY")


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"", 200, "empty response"),
        (b"\x0a\x05garbage-not-a-protobuf", 200, "malformed protobuf"),
        (b"<html>maintenance</html>", 200, "not a GTFS-realtime message"),
        (b"oops", 503, "HTTP 503"),
    ],
)
def test_a_broken_feed_keeps_the_timetable_and_records_why(
    app: Flask,
    session: Session,
    served: Feed,
    clock: Clock,
    invoke: Callable[..., Result],
    body: bytes,
    status: int,
    error: str,
) -> None:
    day_train(session)
    invoke("gtfs", "realtime", "set", "test", served.url)
    served.body, served.status = body, status
    (result,) = realtime.poll_once(app)
    assert result.error is not None and error in result.error
    (run,) = where(invoke)["runs"]  # type: ignore[misc]
    assert run["timing"] == "scheduled"
    feed = session.get(RealtimeFeed, "test")
    session.refresh(feed)
    assert feed is not None and feed.error is not None and error in feed.error
    listed = invoke("gtfs", "realtime", "list").output
    assert error in listed
    assert invoke("gtfs", "realtime", "poll", "--once").exit_code == 1


def test_a_bad_poll_keeps_the_last_good_delays_until_they_age_out(
    app: Flask, session: Session, served: Feed, clock: Clock, invoke: Callable[..., Result]
) -> None:
    day_train(session)
    invoke("gtfs", "realtime", "set", "test", served.url)
    served.body = message(("171-daily", "20260610", [(None, "NWK", 600)]))
    realtime.poll_once(app)
    served.body = b"garbage"
    clock.advance(seconds=60)
    assert realtime.poll_once(app)[0].error
    assert session.scalars(select(RealtimeTrip)).all() != []
    (run,) = where(invoke, NOW + timedelta(seconds=60))["runs"]  # type: ignore[misc]
    assert run["timing"] == "10 min late, realtime"


def test_an_empty_but_valid_message_clears_the_delays(
    app: Flask, session: Session, served: Feed, clock: Clock, invoke: Callable[..., Result]
) -> None:
    day_train(session)
    invoke("gtfs", "realtime", "set", "test", served.url)
    served.body = message(("171-daily", "20260610", [(None, "NWK", 600)]))
    realtime.poll_once(app)
    served.body = message()
    assert realtime.poll_once(app, force=True)[0] == realtime.PollResult("test", 0, None)
    (run,) = where(invoke)["runs"]  # type: ignore[misc]
    assert run["timing"] == "scheduled"


def test_a_producer_clock_ahead_cannot_make_old_data_fresh(
    app: Flask, session: Session, served: Feed, clock: Clock, invoke: Callable[..., Result]
) -> None:
    day_train(session)
    invoke("gtfs", "realtime", "set", "test", served.url)
    served.body = message(
        ("171-daily", "20260610", [(None, "NWK", 600)]), at=NOW + timedelta(hours=5)
    )
    realtime.poll_once(app)
    (row,) = session.scalars(select(RealtimeTrip)).all()
    assert row.observed_at == NOW
    # An hour-old message is stale at once.
    served.body = message(
        ("171-daily", "20260610", [(None, "NWK", 600)]), at=NOW - timedelta(hours=1)
    )
    realtime.poll_once(app, force=True)
    (run,) = where(invoke)["runs"]  # type: ignore[misc]
    assert run["timing"] == "scheduled"


def test_an_unreachable_or_oversized_feed_is_an_error_not_a_crash(
    app: Flask, session: Session, served: Feed, clock: Clock, invoke: Callable[..., Result]
) -> None:
    day_train(session)
    invoke("gtfs", "realtime", "set", "test", "http://127.0.0.1:9/nothing-listens-here")
    update_settings(app, realtime_timeout_seconds=2.0)
    (result,) = realtime.poll_once(app)
    assert result.error is not None and result.error.startswith("cannot fetch")
    invoke("gtfs", "realtime", "set", "test", served.url)
    update_settings(app, realtime_max_bytes=100)
    served.body = message(*[(f"trip-{n}", None, [(None, "NWK", 60)]) for n in range(20)])
    (result,) = realtime.poll_once(app)
    assert result.error == "the response is larger than 100 bytes"


def test_each_feed_is_polled_once_per_interval_by_any_number_of_pollers(
    app: Flask, session: Session, served: Feed, clock: Clock
) -> None:
    day_train(session)
    with app.app_context():
        realtime.set_url(session, "test", served.url, now=NOW)
        session.commit()
    served.body = message(("171-daily", "20260610", [(None, "NWK", 60)]))
    results: list[list[realtime.PollResult]] = []
    threads = [
        threading.Thread(target=lambda: results.append(realtime.poll_once(app))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert served.requests == 1
    assert sum(len(r) for r in results) == 1
    clock.advance(seconds=29)
    assert realtime.poll_once(app) == []
    clock.advance(seconds=2)
    assert len(realtime.poll_once(app)) == 1 and served.requests == 2


def test_urls_are_checked_and_changes_audited(
    session: Session, invoke: Callable[..., Result]
) -> None:
    day_train(session)
    unknown = invoke("gtfs", "realtime", "set", "nowhere", "https://example.org/tu.pb")
    assert unknown.exit_code == 1 and "no feed 'nowhere' has been imported" in unknown.output
    bad = invoke("gtfs", "realtime", "set", "test", "file:///etc/passwd")
    assert bad.exit_code == 1 and "is not an http(s) URL" in bad.output
    assert invoke("gtfs", "realtime", "set", "test", "https://example.org/tu.pb").exit_code == 0
    assert invoke("gtfs", "realtime", "remove", "test").exit_code == 0
    assert invoke("gtfs", "realtime", "remove", "test").exit_code == 1
    actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["realtime.set", "realtime.remove"]
    none = invoke("gtfs", "realtime", "poll", "--once")
    assert none.exit_code == 0 and "no feed has a realtime URL" in none.output


def test_parse_reads_delays_times_and_skips_what_carries_none() -> None:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = int(NOW.timestamp())
    cancelled = msg.entity.add(id="c")
    cancelled.trip_update.trip.trip_id = "gone"
    cancelled.trip_update.trip.schedule_relationship = 3  # CANCELED
    timed = msg.entity.add(id="t")
    timed.trip_update.trip.trip_id = "171-daily"
    timed.trip_update.trip.start_date = "20260610"
    stu = timed.trip_update.stop_time_update.add(stop_sequence=2)
    stu.arrival.time = int(NOW.timestamp())
    skipped = timed.trip_update.stop_time_update.add(stop_sequence=3)
    skipped.schedule_relationship = 1  # SKIPPED
    timed.trip_update.delay = 120
    alert = msg.entity.add(id="a")
    alert.alert.header_text.translation.add(text="not a trip update")
    parsed = realtime.parse(msg.SerializeToString(), NOW)
    ((trip_id, start, delay),) = parsed.trips
    assert (trip_id, start, delay.delay) == ("171-daily", date(2026, 6, 10), 120)
    assert delay.stops == (realtime.StopDelay(2, None, None, None, int(NOW.timestamp()), None),)


def test_the_poller_is_a_background_job_only_when_asked(_migrated: str, tmp_path: Path) -> None:
    quiet = make_test_app(_migrated, tmp_path / "quiet")
    assert "realtime" not in [job.name for job in background.jobs(quiet)]
    busy = make_test_app(
        _migrated, tmp_path / "busy", REALTIME_INLINE=True, REALTIME_POLL_SECONDS=3600
    )
    try:
        (job,) = [job for job in background.jobs(busy) if job.name == "realtime"]
        assert job.every == 3600
        busy.test_client().get("/")
        assert not background.running(busy)  # a request starts nothing: the server does
    finally:
        for made in (quiet, busy):
            Database.engine(made).dispose()


def test_nonsense_dates_and_delays_are_ignored(
    app: Flask, session: Session, served: Feed, clock: Clock, invoke: Callable[..., Result]
) -> None:
    day_train(session)
    invoke("gtfs", "realtime", "set", "test", served.url)
    served.body = message(
        ("171-daily", "20261345", [(None, "NWK", 600)]),  # no such date
        ("171-daily", "20260610", [(None, "NWK", 10**9)]),  # 31 years late
    )
    (result,) = realtime.poll_once(app)
    assert result.error is None and result.trips == 1
    (run,) = where(invoke)["runs"]  # type: ignore[misc]
    assert run["timing"] == "scheduled"


def test_a_tip_is_taken_whatever_the_feed_sent(
    app: Flask, session: Session, served: Feed, clock: Clock, invoke: Callable[..., Result]
) -> None:
    from tests.intake.conftest import post_tip

    train = day_train(session)
    pl = factories.placement(session, train=train, spot="Car 2")
    session.commit()
    invoke("gtfs", "realtime", "set", "test", served.url)
    client = app.test_client()
    for body in (
        b"",
        b"\xff\xfe garbage",
        message(),
        message(("171-daily", None, [(None, "NWK", 60)])),
    ):
        served.body = body
        realtime.poll_once(app, force=True)
        status, page = post_tip(client, f"/T/{pl.code}", details="He holds her passport")
        assert status == 200, page
