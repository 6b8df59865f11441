"""A train's scheduled position: which trip is running, and its last and next stops."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tipline.locations.models import Station, Train
from tipline.locations.schedule import service_day_origin, train_position

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


def test_noon_minus_twelve_hours_is_not_midnight_on_dst_days() -> None:
    assert service_day_origin(date(2026, 6, 10), NY) == datetime(2026, 6, 10, 4, tzinfo=UTC)
    # Spring forward: time zero is 23:00 EST the evening before.
    assert service_day_origin(date(2026, 3, 8), NY) == datetime(2026, 3, 8, 4, tzinfo=UTC)
    # Fall back: time zero is 01:00 EDT.
    assert service_day_origin(date(2026, 11, 1), NY) == datetime(2026, 11, 1, 5, tzinfo=UTC)


def test_between_stops_gives_last_and_next_and_moving(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    pos = train_position(session, tr, local(2026, 6, 10, 8, 40))
    assert pos is not None
    assert pos.trip_id == "171-daily"
    assert pos.service_date == date(2026, 6, 10)
    assert pos.route_name == "Northeast Regional"
    assert pos.last is not None and pos.next is not None
    assert (pos.last.station_code, pos.last.time) == ("NWK", local(2026, 6, 10, 8, 25))
    assert (pos.next.station_code, pos.next.station_name) == ("PHL", "Philadelphia 30th Street")
    assert pos.next.time == local(2026, 6, 10, 9, 30)
    assert pos.next.time.tzinfo is UTC
    assert pos.next.state == "PA"
    assert pos.moving is True
    assert pos.route_states == ("NY", "NJ", "PA")


def test_a_train_dwelling_at_a_station_is_there(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    pos = train_position(session, tr, local(2026, 6, 10, 8, 22))  # at NWK 08:20-08:25
    assert pos is not None and pos.last is not None and pos.next is not None
    assert (pos.last.station_code, pos.last.time) == ("NWK", local(2026, 6, 10, 8, 20))
    assert (pos.next.station_code, pos.next.time) == ("PHL", local(2026, 6, 10, 9, 30))


def test_across_midnight(session: Session) -> None:
    st = stations(session)
    stops = [
        (st["NYP"], None, hms(23, 30)),
        (st["NWK"], hms(24, 40), hms(24, 40)),
        (st["PHL"], hms(25, 10), None),
    ]
    tr = factories.train(session, number="67", stops=stops)
    pos = train_position(session, tr, local(2026, 6, 10, 0, 50))
    assert pos is not None
    assert pos.service_date == date(2026, 6, 9)
    assert pos.last is not None and pos.next is not None
    assert (pos.last.station_code, pos.last.time) == ("NWK", local(2026, 6, 10, 0, 40))
    assert (pos.next.station_code, pos.next.time) == ("PHL", local(2026, 6, 10, 1, 10))
    assert pos.moving


def test_times_beyond_48_hours(session: Session) -> None:
    st = stations(session)
    stops = [
        (st["WAS"], None, hms(10)),
        (st["PHL"], hms(50), hms(50, 5)),
        (st["NYP"], hms(80, 35), None),
    ]
    # Runs on Mondays only, so exactly one run is under way three days later.
    tr = factories.train(session, number="3", stops=stops, service_id="mon", weekdays="1000000")
    pos = train_position(session, tr, local(2026, 6, 11, 6))  # Thursday
    assert pos is not None
    assert pos.service_date == date(2026, 6, 8)
    assert pos.last is not None and pos.next is not None
    assert (pos.last.station_code, pos.last.time) == ("PHL", local(2026, 6, 10, 2, 5))
    assert (pos.next.station_code, pos.next.time) == ("NYP", local(2026, 6, 11, 8, 35))
    assert pos.moving


def test_a_day_the_calendar_excludes_gives_the_last_run(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st, service_id="weekdays", weekdays="1111100")
    pos = train_position(session, tr, local(2026, 6, 13, 8, 40))  # Saturday
    assert pos is not None
    assert pos.service_date == date(2026, 6, 12)
    assert pos.last is not None and pos.last.station_code == "PHL"
    assert pos.next is None
    assert not pos.moving
    assert train_position(session, tr, local(2026, 6, 14, 8, 40)) is None  # Sunday


def test_removed_exception_date(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    factories.service_exception(session, service_id="daily", day=date(2026, 7, 4), added=False)
    pos = train_position(session, tr, local(2026, 7, 4, 8, 40))
    assert pos is not None
    assert pos.service_date == date(2026, 7, 3)
    assert not pos.moving
    assert train_position(session, tr, local(2026, 7, 5, 8, 40)).moving  # type: ignore[union-attr]


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
    pos = train_position(session, tr, local(2026, 7, 4, 9))
    assert pos is not None and pos.moving and pos.service_date == date(2026, 7, 4)
    assert train_position(session, tr, local(2026, 7, 6, 9)) is None


def test_before_first_departure_gives_the_next_trip(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    pos = train_position(session, tr, local(2026, 6, 10, 7))
    assert pos is not None
    assert pos.service_date == date(2026, 6, 10)
    assert pos.last is None
    assert pos.next is not None
    assert (pos.next.station_code, pos.next.time) == ("NYP", local(2026, 6, 10, 8))
    assert not pos.moving


def test_after_arrival(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    pos = train_position(session, tr, local(2026, 6, 10, 11))
    assert pos is not None
    assert pos.service_date == date(2026, 6, 10)
    assert pos.last is not None
    assert (pos.last.station_code, pos.last.time) == ("PHL", local(2026, 6, 10, 9, 30))
    assert pos.next is None
    assert not pos.moving


def test_dst_spring_forward_day(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    # 08:00 on the timetable is 08:00 EDT that morning, not 09:00 as midnight + 8 h would say.
    pos = train_position(session, tr, datetime(2026, 3, 8, 12, 5, tzinfo=UTC))
    assert pos is not None
    assert pos.last is not None and pos.last.station_code == "NYP"
    assert pos.last.time == datetime(2026, 3, 8, 12, tzinfo=UTC)
    assert pos.next is not None and pos.next.time == datetime(2026, 3, 8, 12, 20, tzinfo=UTC)


def test_dst_fall_back_day(session: Session) -> None:
    st = stations(session)
    tr = day_train(session, st)
    pos = train_position(session, tr, datetime(2026, 11, 1, 13, 5, tzinfo=UTC))
    assert pos is not None
    assert pos.last is not None
    assert pos.last.time == datetime(2026, 11, 1, 13, tzinfo=UTC)  # 08:00 EST


def test_a_train_with_no_trips_has_no_position(session: Session) -> None:
    tr = factories.train(session, number="9", stops=[])
    assert train_position(session, tr, local(2026, 6, 10, 9)) is None


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
        pos = train_position(session, tr, local(*when))
        assert pos is not None
        return pos.trip_id, pos.service_date, pos.moving

    # The overnight run that left Roanoke on the 23rd is still rolling next morning.
    assert at(2026, 3, 24, 9) == (early.trip_id, date(2026, 3, 23), True)
    # After it arrives, the Tuesday-only trip from Washington is the next to leave that day.
    assert at(2026, 3, 24, 18) == (tuesday.trip_id, date(2026, 3, 24), False)
    assert at(2026, 3, 25, 9) == (tuesday.trip_id, date(2026, 3, 24), True)
    assert at(2026, 3, 25, 17) == (late.trip_id, date(2026, 3, 25), True)
    pos = train_position(session, tr, local(2026, 3, 25, 9))
    assert pos is not None and pos.next is not None
    assert (pos.next.station_code, pos.next.time) == ("BOS", local(2026, 3, 25, 10, 5))
    assert pos.route_states == ("DC", "NY", "MA")


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
        pos = train_position(session, tr, local(*when))
        assert pos is not None
        return pos.trip_id, pos.service_date, pos.moving, pos.next and pos.next.station_code

    assert at(2026, 3, 24, 9)[:3] == ("249942", date(2026, 3, 23), True)
    assert at(2026, 3, 24, 18) == ("249943", date(2026, 3, 24), False, "WAS")
    # Once it has reached Boston, the run leaving Roanoke that afternoon is the one to expect.
    assert at(2026, 3, 25, 10, 30) == ("249944", date(2026, 3, 25), False, "RNK")
    assert at(2026, 3, 25, 17)[:3] == ("249944", date(2026, 3, 25), True)
    pos = train_position(session, tr, local(2026, 3, 25, 9, 50))
    assert pos is not None and pos.next is not None
    assert (pos.next.station_code, pos.next.time) in {
        ("BBY", local(2026, 3, 25, 9, 58)),
        ("BOS", local(2026, 3, 25, 10, 5)),
    }
