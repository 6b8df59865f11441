"""Where a train is: every run under way, each with its last and next stops; the timetable read
in the agency's time zone; realtime delays when fresh."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tipline.locations.models import Station, Train
from tipline.locations.realtime import Delays, StopDelay, TripDelay
from tipline.locations.schedule import Run, RunStatus, service_day_origin, train_runs

NY = ZoneInfo("America/New_York")


def hms(hours: int, minutes: int = 0) -> int:
    """GTFS seconds from the service day's time zero; hours may pass 24."""
    return hours * 3600 + minutes * 60


def local(*args: int) -> datetime:
    """A New York wall-clock time, as the aware UTC datetime the code receives."""
    return datetime(*args, tzinfo=NY).astimezone(UTC)  # type: ignore[misc]


def stations(session: Session) -> dict[str, Station]:
    return {
        "NYP": factories.station(session),
        "NWK": factories.station(session, **factories.NWK),
        "PHL": factories.station(session, **factories.PHL),
        "WAS": factories.station(session, **factories.WAS),
    }


def day_train(session: Session, st: dict[str, Station], **kwargs: object) -> Train:
    """NYP 08:00 -> NWK 08:20/08:25 -> PHL 09:30."""
    stops = [
        (st["NYP"], None, hms(8)),
        (st["NWK"], hms(8, 20), hms(8, 25)),
        (st["PHL"], hms(9, 30), None),
    ]
    return factories.train(session, number="171", stops=stops, **kwargs)  # type: ignore[arg-type]


def under_way(session: Session, train: Train, when: datetime) -> Run:
    """The one run under way at `when`."""
    runs = train_runs(session, [train], when)
    assert [run.status for run in runs] == [RunStatus.UNDER_WAY], runs
    return runs[0]


def statuses(runs: list[Run]) -> list[tuple[RunStatus, date]]:
    return [(run.status, run.service_date) for run in runs]


def test_noon_minus_twelve_hours_is_not_midnight_on_dst_days() -> None:
    assert service_day_origin(date(2026, 6, 10), NY) == datetime(2026, 6, 10, 4, tzinfo=UTC)
    # Spring forward: time zero is 23:00 EST the evening before.
    assert service_day_origin(date(2026, 3, 8), NY) == datetime(2026, 3, 8, 4, tzinfo=UTC)
    # Fall back: time zero is 01:00 EDT.
    assert service_day_origin(date(2026, 11, 1), NY) == datetime(2026, 11, 1, 5, tzinfo=UTC)


def test_between_stops_gives_last_and_next_and_moving(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    run = under_way(session, tr, local(2026, 6, 10, 8, 40))
    assert run.trip_id == "171-daily" and run.train_number == "171"
    assert run.service_date == date(2026, 6, 10)
    assert run.route_name == "Northeast Regional"
    assert run.last is not None and run.next is not None
    assert (run.last.station_code, run.last.time) == ("NWK", local(2026, 6, 10, 8, 25))
    assert (run.next.station_code, run.next.station_name) == ("PHL", "Philadelphia 30th Street")
    assert run.next.time == local(2026, 6, 10, 9, 30)
    assert run.next.time.tzinfo is UTC
    assert run.next.local().strftime("%H:%M %Z") == "09:30 EDT"
    assert run.next.state == "PA"
    assert run.moving and run.states == ("NJ", "PA")
    assert [c.station_code for c in run.earlier] == ["NYP"]
    assert (run.origin.station_code, run.destination.station_code) == ("NYP", "PHL")
    assert run.timing() == "scheduled" and run.delay_seconds is None


def test_a_train_dwelling_at_a_station_is_there(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    run = under_way(session, tr, local(2026, 6, 10, 8, 22))  # at NWK 08:20-08:25
    assert run.last is not None and run.next is not None
    assert (run.last.station_code, run.last.time) == ("NWK", local(2026, 6, 10, 8, 20))
    assert (run.next.station_code, run.next.time) == ("PHL", local(2026, 6, 10, 9, 30))


def test_across_midnight(session: Session) -> None:
    st = stations(session)
    stops = [
        (st["NYP"], None, hms(23, 30)),
        (st["NWK"], hms(24, 40), hms(24, 40)),
        (st["PHL"], hms(25, 10), None),
    ]
    tr = factories.train(session, number="67", stops=stops)
    run = under_way(session, tr, local(2026, 6, 10, 0, 50))
    assert run.service_date == date(2026, 6, 9)
    assert run.last is not None and run.next is not None
    assert (run.last.station_code, run.last.time) == ("NWK", local(2026, 6, 10, 0, 40))
    assert (run.next.station_code, run.next.time) == ("PHL", local(2026, 6, 10, 1, 10))


def test_times_beyond_48_hours(session: Session) -> None:
    st = stations(session)
    stops = [
        (st["WAS"], None, hms(10)),
        (st["PHL"], hms(50), hms(50, 5)),
        (st["NYP"], hms(80, 35), None),
    ]
    # Runs on Mondays only, so exactly one run is under way three days later.
    tr = factories.train(session, number="3", stops=stops, service_id="mon", weekdays="1000000")
    run = under_way(session, tr, local(2026, 6, 11, 6))  # Thursday
    assert run.service_date == date(2026, 6, 8)
    assert run.last is not None and run.next is not None
    assert (run.last.station_code, run.last.time) == ("PHL", local(2026, 6, 10, 2, 5))
    assert (run.next.station_code, run.next.time) == ("NYP", local(2026, 6, 11, 8, 35))


def test_every_run_under_way_is_listed_the_earliest_first(session: Session) -> None:
    st = stations(session)
    stops = [
        (st["WAS"], None, hms(10)),
        (st["PHL"], hms(30), hms(30, 5)),
        (st["NYP"], hms(60), None),
    ]
    # Daily and two days long: on any day, three runs are rolling at 11:00.
    tr = factories.train(session, number="5", stops=stops)
    runs = train_runs(session, [tr], local(2026, 6, 11, 11))
    assert statuses(runs) == [
        (RunStatus.UNDER_WAY, date(2026, 6, 9)),
        (RunStatus.UNDER_WAY, date(2026, 6, 10)),
        (RunStatus.UNDER_WAY, date(2026, 6, 11)),
    ]
    assert [(r.last and r.last.station_code, r.next and r.next.station_code) for r in runs] == [
        ("PHL", "NYP"),
        ("PHL", "NYP"),
        ("WAS", "PHL"),
    ]


def test_a_day_the_calendar_excludes_gives_the_last_run(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st, service_id="weekdays", weekdays="1111100")
    runs = train_runs(session, [tr], local(2026, 6, 13, 8, 40))  # Saturday
    assert statuses(runs) == [(RunStatus.LAST, date(2026, 6, 12))]
    (last,) = runs
    assert last.last is not None and last.last.station_code == "PHL"
    assert last.next is None and not last.moving
    assert last.states == ("PA",)
    runs = train_runs(session, [tr], local(2026, 6, 14, 20))  # Sunday evening
    assert statuses(runs) == [
        (RunStatus.LAST, date(2026, 6, 12)),
        (RunStatus.NEXT, date(2026, 6, 15)),
    ]
    (upcoming,) = [r for r in runs if r.status is RunStatus.NEXT]
    assert upcoming.last is None and upcoming.next is not None
    assert upcoming.next.station_code == "NYP" and upcoming.states == ("NY",)


def test_removed_exception_date(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    factories.service_exception(session, service_id="daily", day=date(2026, 7, 4), added=False)
    runs = train_runs(session, [tr], local(2026, 7, 4, 8, 40))
    assert statuses(runs) == [
        (RunStatus.LAST, date(2026, 7, 3)),
        (RunStatus.NEXT, date(2026, 7, 5)),
    ]
    assert under_way(session, tr, local(2026, 7, 5, 8, 40)).service_date == date(2026, 7, 5)


def test_service_with_only_calendar_dates(session: Session) -> None:
    st = stations(session)
    tr = factories.train(session, number="2171", stops=[])
    factories.trip(
        session,
        tr,
        service_id="special",
        weekdays=None,
        stops=[(st["NYP"], None, hms(8)), (st["PHL"], hms(9, 30), None)],
    )
    factories.service_exception(session, service_id="special", day=date(2026, 7, 4), added=True)
    assert under_way(session, tr, local(2026, 7, 4, 9)).service_date == date(2026, 7, 4)
    assert statuses(train_runs(session, [tr], local(2026, 7, 6, 9))) == [
        (RunStatus.LAST, date(2026, 7, 4))
    ]
    assert train_runs(session, [tr], local(2026, 7, 20, 9)) == []


def test_before_first_departure_gives_the_last_and_next_runs(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    runs = train_runs(session, [tr], local(2026, 6, 10, 7))
    assert statuses(runs) == [
        (RunStatus.LAST, date(2026, 6, 9)),
        (RunStatus.NEXT, date(2026, 6, 10)),
    ]
    upcoming = runs[1]
    assert upcoming.last is None and upcoming.next is not None
    assert (upcoming.next.station_code, upcoming.next.time) == ("NYP", local(2026, 6, 10, 8))
    assert not upcoming.moving


def test_after_arrival(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    runs = train_runs(session, [tr], local(2026, 6, 10, 11))
    assert statuses(runs) == [
        (RunStatus.LAST, date(2026, 6, 10)),
        (RunStatus.NEXT, date(2026, 6, 11)),
    ]
    arrived = runs[0]
    assert arrived.last is not None
    assert (arrived.last.station_code, arrived.last.time) == ("PHL", local(2026, 6, 10, 9, 30))
    assert arrived.next is None


def test_dst_spring_forward_day(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    # 08:00 on the timetable is 08:00 EDT that morning, not 09:00 as midnight + 8 h would say.
    run = under_way(session, tr, datetime(2026, 3, 8, 12, 5, tzinfo=UTC))
    assert run.last is not None and run.last.station_code == "NYP"
    assert run.last.time == datetime(2026, 3, 8, 12, tzinfo=UTC)
    assert run.next is not None and run.next.time == datetime(2026, 3, 8, 12, 20, tzinfo=UTC)


def test_dst_fall_back_day(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    run = under_way(session, tr, datetime(2026, 11, 1, 13, 5, tzinfo=UTC))
    assert run.last is not None
    assert run.last.time == datetime(2026, 11, 1, 13, tzinfo=UTC)  # 08:00 EST


def test_a_night_train_on_the_fall_back_night(session: Session) -> None:
    """Service day 31 October, 23:30 to 26:10: its times count from that day's origin (EDT), so
    26:10 lands after clocks fall back, at 01:10 EST, not 02:10 as wall-clock arithmetic says."""
    st = stations(session)
    stops = [(st["NYP"], None, hms(23, 30)), (st["PHL"], hms(26, 10), None)]
    tr = factories.train(session, number="67", stops=stops)
    run = under_way(session, tr, datetime(2026, 11, 1, 4, 0, tzinfo=UTC))  # 00:00 EDT
    assert run.service_date == date(2026, 10, 31)
    assert run.origin.time == datetime(2026, 11, 1, 3, 30, tzinfo=UTC)  # 23:30 EDT
    assert run.next is not None and run.next.time == datetime(2026, 11, 1, 6, 10, tzinfo=UTC)
    assert run.next.local().strftime("%H:%M %Z") == "01:10 EST"


def test_a_train_with_no_trips_has_no_runs(session: Session) -> None:
    tr = factories.train(session, number="9", stops=[])
    assert train_runs(session, [tr], local(2026, 6, 10, 9)) == []


def test_times_count_in_the_agency_time_zone_not_the_first_stop(session: Session) -> None:
    """GTFS: stop times are in the agency's zone. Amtrak (New York time) stores the Zephyr's
    14:00 Central departure from Chicago as 15:00:00."""
    chi = factories.station(
        session,
        code="CHI",
        name="Chicago",
        lat=41.8789,
        lon=-87.6395,
        state="IL",
        tz="America/Chicago",
    )
    npv = factories.station(
        session,
        code="NPV",
        name="Naperville",
        lat=41.7795,
        lon=-88.1459,
        state="IL",
        tz="America/Chicago",
    )
    tr = factories.train(
        session,
        number="5",
        stops=[(chi, None, hms(15)), (npv, hms(15, 34), hms(15, 35))],
        timezone="America/New_York",
    )
    run = under_way(session, tr, datetime(2026, 12, 2, 20, 10, tzinfo=UTC))
    assert run.origin.local().strftime("%H:%M %Z") == "14:00 CST"
    assert run.origin.time == datetime(2026, 12, 2, 20, tzinfo=UTC)


def test_several_numbers_of_one_car_together(session: Session) -> None:
    st = stations(session)
    west = day_train(session, st)
    east = factories.train(
        session,
        number="172",
        stops=[(st["PHL"], None, hms(12)), (st["NYP"], hms(13, 30), None)],
    )
    runs = train_runs(session, [west, east], local(2026, 6, 10, 12, 30))
    assert [(r.train_number, r.status) for r in runs] == [("172", RunStatus.UNDER_WAY)]
    runs = train_runs(session, [west, east], local(2026, 6, 10, 10))
    assert [(r.train_number, r.status) for r in runs] == [
        ("171", RunStatus.LAST),
        ("172", RunStatus.NEXT),
    ]


def delays(delay: TripDelay, *, trip_id: str = "171-daily", day: date | None = None) -> Delays:
    return Delays({("test", trip_id, day): delay})


def test_a_fresh_delay_moves_the_train_back_and_says_so(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    now = local(2026, 6, 10, 8, 40)
    late = TripDelay((StopDelay(None, "NWK", 23 * 60, 23 * 60, None, None),), None, now)
    (run,) = train_runs(session, [tr], now, delays=delays(late, day=date(2026, 6, 10)))
    # 23 min late: it has not reached Newark (08:43 instead of 08:20).
    assert run.last is not None and run.next is not None
    assert (run.last.station_code, run.next.station_code) == ("NYP", "NWK")
    assert run.next.time == local(2026, 6, 10, 8, 43)
    assert run.next.scheduled == local(2026, 6, 10, 8, 20)
    assert run.delay_seconds == 23 * 60 and run.timing() == "23 min late, realtime"
    assert run.as_dict()["timing"] == "23 min late, realtime"
    assert run.as_dict()["delay_minutes"] == 23


def test_a_late_train_is_still_under_way_after_its_scheduled_arrival(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    now = local(2026, 6, 10, 9, 40)  # scheduled into PHL at 09:30
    late = TripDelay((), 30 * 60, now)  # a trip-wide delay only
    (run,) = train_runs(session, [tr], now, delays=delays(late))  # no start date: the one under way
    assert run.moving and run.next is not None and run.next.station_code == "PHL"
    assert run.timing() == "30 min late, realtime"


def test_an_update_by_absolute_time_and_stop_sequence(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    stop = tr.trips[0].stops[1]
    stop.stop_sequence = 20
    session.flush()
    now = local(2026, 6, 10, 8, 21)
    when = int(local(2026, 6, 10, 8, 30).timestamp())  # arrives NWK 08:30, not 08:20
    late = TripDelay((StopDelay(20, None, None, None, when, None),), None, now)
    (run,) = train_runs(session, [tr], now, delays=delays(late, day=date(2026, 6, 10)))
    assert run.next is not None and run.next.station_code == "NWK"
    assert run.timing() == "10 min late, realtime"


def test_a_delay_for_another_day_or_an_unknown_stop_changes_nothing(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    now = local(2026, 6, 10, 8, 40)
    late = TripDelay((StopDelay(None, "NWK", 600, 600, None, None),), None, now)
    (run,) = train_runs(session, [tr], now, delays=delays(late, day=date(2026, 6, 9)))
    assert run.timing() == "scheduled"
    nowhere = TripDelay((StopDelay(None, "ZZZ", 600, 600, None, None),), None, now)
    (run,) = train_runs(session, [tr], now, delays=delays(nowhere, day=date(2026, 6, 10)))
    assert run.timing() == "scheduled"


def test_amtrak_66_runs_different_trips_on_different_calendars(session: Session) -> None:
    """Modelled on Amtrak's feed of 2026-03-18: train 66 (Roanoke/Washington to Boston,
    overnight) on three services: daily to 03-23, Tuesday 03-24 only from Washington, and
    daily from 03-25."""
    st = stations(session)
    rnk = factories.station(session, code="RNK", name="Roanoke", lat=37.27, lon=-79.94, state="VA")
    bos = factories.station(
        session, code="BOS", name="Boston South Station", lat=42.35, lon=-71.06, state="MA"
    )
    tr = factories.train(session, number="66", stops=[])
    from_roanoke = [
        (rnk, None, hms(16, 23)),
        (st["WAS"], hms(21, 30), hms(22)),
        (st["NYP"], hms(27, 54), hms(28, 20)),
        (bos, hms(34, 5), None),
    ]
    from_washington = from_roanoke[1:]
    march = {"weekdays": "1111111"}
    early = factories.trip(
        session,
        tr,
        service_id="A",
        stops=from_roanoke,
        start=date(2026, 3, 15),
        end=date(2026, 3, 23),
        **march,
    )
    tuesday = factories.trip(
        session,
        tr,
        service_id="B",
        stops=[(st["WAS"], None, hms(22)), *from_washington[1:]],
        weekdays="0100000",
        start=date(2026, 3, 24),
        end=date(2026, 3, 24),
    )
    late = factories.trip(
        session,
        tr,
        service_id="C",
        stops=from_roanoke,
        start=date(2026, 3, 25),
        end=date(2026, 4, 10),
        **march,
    )

    def at(*when: int) -> tuple[str, date, bool]:
        runs = train_runs(session, [tr], local(*when))
        moving = [run for run in runs if run.moving]
        run = moving[0] if moving else runs[-1]  # none under way: the next to leave
        assert len(moving) <= 1
        return run.trip_id, run.service_date, run.moving

    # The overnight run that left Roanoke on the 23rd is still rolling next morning.
    assert at(2026, 3, 24, 9) == (early.trip_id, date(2026, 3, 23), True)
    # After it arrives, the Tuesday-only trip from Washington is the next to leave that day.
    assert at(2026, 3, 24, 18) == (tuesday.trip_id, date(2026, 3, 24), False)
    assert at(2026, 3, 25, 9) == (tuesday.trip_id, date(2026, 3, 24), True)
    assert at(2026, 3, 25, 17) == (late.trip_id, date(2026, 3, 25), True)
    run = under_way(session, tr, local(2026, 3, 25, 9))
    assert run.next is not None
    assert (run.next.station_code, run.next.time) == ("BOS", local(2026, 3, 25, 10, 5))


@pytest.mark.slow
def test_amtrak_66_in_the_real_feed(session: Session) -> None:
    """The real feed (2026-03-18): trip 249942 runs daily to 03-23, 249943 on Tuesday 03-24
    from Washington at 22:00, 249944 daily from 03-25; all reach Boston at 34:05."""
    from tests.conftest import shared_feed
    from tipline.locations.gtfs import import_feed

    import_feed(session, shared_feed("amtrak-gtfs"), feed="amtrak", now=datetime.now(UTC))
    session.commit()
    tr = session.scalars(select(Train).where(Train.feed == "amtrak", Train.number == "66")).one()

    def at(*when: int) -> tuple[str, date, bool, str | None]:
        runs = train_runs(session, [tr], local(*when))
        moving = [run for run in runs if run.moving]
        run = moving[0] if moving else runs[-1]  # none under way: the next to leave
        return run.trip_id, run.service_date, run.moving, run.next and run.next.station_code

    assert at(2026, 3, 24, 9)[:3] == ("249942", date(2026, 3, 23), True)
    assert at(2026, 3, 24, 18) == ("249943", date(2026, 3, 24), False, "WAS")
    # Once it has reached Boston, the run leaving Roanoke that afternoon is the one to expect.
    assert at(2026, 3, 25, 10, 30) == ("249944", date(2026, 3, 25), False, "RNK")
    assert at(2026, 3, 25, 17)[:3] == ("249944", date(2026, 3, 25), True)
    run = under_way(session, tr, local(2026, 3, 25, 9, 50))
    assert run.next is not None
    assert (run.next.station_code, run.next.time) in {
        ("BBY", local(2026, 3, 25, 9, 58)),
        ("BOS", local(2026, 3, 25, 10, 5)),
    }
