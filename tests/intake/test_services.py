"""Submitting a tip: location snapshot, routing, priority, receipts and idempotency."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tests.intake.conftest import Posters, hms, placement
from tipline.intake.models import Indicator, LocationKind, Priority, Tip, TipJurisdiction
from tipline.intake.services import (
    InvalidAnswers,
    Receipt,
    TipAnswers,
    locate,
    priority_of,
    receipt_code,
    receipt_hash,
    submit_tip,
)
from tipline.locations.services import find_placement
from tipline.sealing import get_keyring

SECRET = "test-secret"
NY = ZoneInfo("America/New_York")
# 00:50 in New York on 10 June: train 66 left New York at 23:30 on the 9th, called at Newark at
# 24:40-24:42 and is due in Philadelphia at 25:10.
AFTER_MIDNIGHT = datetime(2026, 6, 10, 0, 50, tzinfo=NY).astimezone(UTC)
SAW = TipAnswers(indicators=(Indicator.FEW_BELONGINGS,), details="A man holds her ticket.")


def submit(session: Session, code: str | None, answers: TipAnswers = SAW, **kw: object) -> Receipt:
    options: dict[str, object] = {
        "token": "token-1",
        "now": AFTER_MIDNIGHT,
        "secret": SECRET,
        **kw,
    }
    pl = find_placement(session, code) if code else None
    receipt = submit_tip(session, placement=pl, answers=answers, **options)  # type: ignore[arg-type]
    session.commit()
    return receipt


def stored(session: Session) -> list[Tip]:
    session.commit()  # a fresh snapshot: see what other connections committed
    return list(session.scalars(select(Tip).order_by(Tip.id)))


def test_station_tip_keeps_a_snapshot_of_where_it_came_from(
    session: Session, posters: Posters
) -> None:
    receipt = submit(session, posters.station)
    (tip,) = stored(session)
    assert tip.id == receipt.tip_id
    assert tip.received_at == AFTER_MIDNIGHT
    assert tip.location_kind == LocationKind.STATION
    assert (tip.station_code, tip.station_name, tip.state) == ("NYP", "New York Penn Station", "NY")
    assert (tip.placement_code, tip.spot) == (posters.station, "Women's restroom, concourse A")
    assert tip.placement_id == placement(session, posters.station).id
    assert tip.train_number is None and not tip.train_moving
    assert tip.jurisdiction_codes() == ["NY"]
    assert tip.indicators == ["few_belongings"]
    assert tip.details == "A man holds her ticket."


def test_train_tip_records_the_trip_and_its_last_and_next_stops_across_midnight(
    session: Session, posters: Posters
) -> None:
    submit(session, posters.train)
    (tip,) = stored(session)
    assert tip.location_kind == LocationKind.TRAIN
    assert (tip.train_number, tip.route_name, tip.spot) == (
        "66",
        "Northeast Regional",
        "Car 3 vestibule",
    )
    assert (tip.trip_id, tip.service_date) == ("66-daily", date(2026, 6, 9))
    assert (tip.last_stop_code, tip.last_stop_name) == ("NWK", "Newark Penn Station")
    assert tip.last_stop_time == datetime(2026, 6, 10, 0, 42, tzinfo=NY)
    assert (tip.next_stop_code, tip.next_stop_name) == ("PHL", "Philadelphia 30th Street")
    assert tip.next_stop_time == datetime(2026, 6, 10, 1, 10, tzinfo=NY)
    assert tip.train_moving
    # Routed to where the train is: between New Jersey and Pennsylvania, not New York.
    assert tip.jurisdiction_codes() == ["NJ", "PA"]
    assert tip.station_code is None


def test_train_tip_before_it_leaves_goes_to_the_first_stop(
    session: Session, posters: Posters
) -> None:
    submit(session, posters.train, now=datetime(2026, 6, 10, 20, tzinfo=NY))
    (tip,) = stored(session)
    assert tip.last_stop_code is None
    assert tip.next_stop_code == "NYP"  # the run to meet
    assert not tip.train_moving
    # The car is where last night's run ended or where tonight's begins: both hear of it.
    assert [run["status"] for run in tip.train_runs or []] == ["last", "next"]
    assert tip.jurisdiction_codes() == ["NY", "PA"]


def test_train_without_a_trip_that_day_goes_to_every_state_on_its_route(
    session: Session,
) -> None:
    stops = [
        (factories.station(session), None, hms(8)),
        (factories.station(session, **factories.WAS), hms(11), None),
    ]
    tr = factories.train(
        session, number="2151", stops=stops, service_id="never", weekdays="0000000"
    )
    pl = factories.placement(session, train=tr, spot="Car 1")
    session.commit()
    submit(session, pl.code)
    (tip,) = stored(session)
    assert tip.trip_id is None and not tip.train_moving
    assert tip.jurisdiction_codes() == ["DC", "NY"]


def test_unknown_code_keeps_the_typed_place_and_goes_national(
    session: Session, posters: Posters
) -> None:
    answers = TipAnswers(details="Two girls", typed_place="Union Station, gate B", typed_code="ZZ")
    submit(session, None, answers)
    (tip,) = stored(session)
    assert tip.location_kind == LocationKind.UNKNOWN
    assert tip.placement_id is None
    assert tip.typed_place == "Union Station, gate B"
    assert tip.placement_code == "ZZ"
    assert tip.jurisdiction_codes() == ["national"]


def test_station_without_a_state_goes_national(session: Session) -> None:
    st = factories.station(session, code="XYZ", state=None)
    pl = factories.placement(session, station=st)
    session.commit()
    submit(session, pl.code)
    assert stored(session)[0].jurisdiction_codes() == ["national"]


def test_retired_poster_still_files_its_tip_under_it(session: Session, posters: Posters) -> None:
    submit(session, posters.retired)
    (tip,) = stored(session)
    assert tip.placement_code == posters.retired
    assert tip.spot == "Platform 7 stairs"


@pytest.mark.parametrize(
    ("answers", "moving", "expected"),
    [
        (TipAnswers(happening_now=True), False, Priority.URGENT),
        (TipAnswers(indicators=(Indicator.MINOR_COMMERCIAL_SEX,)), False, Priority.URGENT),
        (TipAnswers(indicators=(Indicator.FEARFUL,)), True, Priority.HIGH),
        (
            TipAnswers(indicators=(Indicator.FEARFUL, Indicator.BRANDING, Indicator.INJURIES)),
            False,
            Priority.HIGH,
        ),
        (TipAnswers(indicators=(Indicator.FEARFUL,)), False, Priority.NORMAL),
        (TipAnswers(details="something odd"), True, Priority.NORMAL),
        (TipAnswers(where_text="platform 3", contact="555"), True, Priority.LOW),
    ],
)
def test_priority(answers: TipAnswers, moving: bool, expected: Priority) -> None:
    assert priority_of(answers, moving=moving) == expected


def test_a_moving_train_raises_priority_at_intake(session: Session, posters: Posters) -> None:
    submit(session, posters.train, token="on-train")
    submit(session, posters.station, token="at-station")
    on_train, at_station = stored(session)
    assert on_train.priority == Priority.HIGH
    assert at_station.priority == Priority.NORMAL


def test_receipt_is_derived_from_the_token_and_only_its_hash_is_stored(
    session: Session, posters: Posters
) -> None:
    receipt = submit(session, posters.station)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", receipt.code)
    assert receipt.code == receipt_code(SECRET, "token-1")
    assert receipt.code != receipt_code(SECRET, "token-2")
    assert receipt.code != receipt_code("another-secret", "token-1")
    (tip,) = stored(session)
    # Keyed: the SHA-256 of the symbols under the keyring's look-up key (never in the database).
    plain = hashlib.sha256(receipt.code.replace("-", "").encode()).hexdigest()
    expected = hmac.new(get_keyring().lookup, plain.encode(), hashlib.sha256).hexdigest()
    assert tip.receipt_hash != plain
    assert tip.receipt_hash == expected == receipt_hash(receipt.code.lower())
    assert "token-1" not in (tip.submission_token, tip.receipt_hash)
    assert receipt.code.replace("-", "") not in tip.receipt_hash


def test_same_token_twice_stores_one_tip_and_returns_the_same_receipt(
    session: Session, posters: Posters
) -> None:
    first = submit(session, posters.station)
    second = submit(session, posters.station, TipAnswers(details="changed my mind"))
    assert first == second
    tips = stored(session)
    assert len(tips) == 1
    assert tips[0].details == "A man holds her ticket."
    assert session.scalar(select(func.count()).select_from(TipJurisdiction)) == 1


def test_two_workers_racing_with_one_token_store_one_tip(app: Flask, posters: Posters) -> None:
    maker = app.extensions["tipline.db"]["sessionmaker"]
    barrier = threading.Barrier(2)
    receipts: list[Receipt] = []
    errors: list[BaseException] = []

    def worker() -> None:
        session = maker()
        try:
            pl = find_placement(session, posters.train)
            # As the view does: read, end the read transaction, then write.
            location = locate(session, pl, AFTER_MIDNIGHT)
            session.commit()
            barrier.wait()
            receipts.append(
                submit_tip(
                    session,
                    placement=pl,
                    answers=SAW,
                    token="double-tap",
                    now=AFTER_MIDNIGHT,
                    secret=SECRET,
                    location=location,
                )
            )
            session.commit()
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(receipts) == 2 and receipts[0] == receipts[1]
    with maker() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 1
        assert session.scalar(select(func.count()).select_from(TipJurisdiction)) == 2


def test_answers_over_the_limits_are_refused(session: Session, posters: Posters) -> None:
    pl = find_placement(session, posters.station)
    for answers in (
        TipAnswers(details="x" * 4001),
        TipAnswers(people_count=0),
        TipAnswers(car="9" * 33),
    ):
        with pytest.raises(InvalidAnswers):
            submit_tip(
                session, placement=pl, answers=answers, token="t", now=AFTER_MIDNIGHT, secret="s"
            )
    assert stored(session) == []
