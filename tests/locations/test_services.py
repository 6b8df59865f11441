"""Placements: creation, codes, lookup, retirement; stations and trains by what people type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from tests import factories
from tipline.locations import codes
from tipline.locations.models import Station
from tipline.locations.services import (
    AmbiguousLocation,
    InvalidCode,
    InvalidPlacement,
    PlacementNotFound,
    UnknownLocation,
    add_placement,
    add_station_placements,
    find_placement,
    find_station,
    find_train,
    parse_code,
    qr_url,
    retire_placement,
    where,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_qr_url_is_upper_case_for_alphanumeric_mode() -> None:
    assert qr_url("https://tips.example.org/", "K7Q2M9XD") == "HTTPS://TIPS.EXAMPLE.ORG/T/K7Q2M9XD"
    assert qr_url("http://127.0.0.1:5000", "K7Q2M9XD") == "HTTP://127.0.0.1:5000/T/K7Q2M9XD"


def test_add_placement_at_a_station_and_on_a_train(session: Session) -> None:
    nyp = factories.station(session)
    t66 = factories.train(session, stops=[(nyp, None, 3600)])
    at_nyp = add_placement(session, station=nyp, spot="  Women's   restroom ", lang="ES", now=NOW)
    on_66 = add_placement(session, train=t66, spot="Car 3 vestibule", now=NOW)

    assert codes.is_valid(at_nyp.code) and at_nyp.code != on_66.code
    assert (at_nyp.spot, at_nyp.lang, at_nyp.active, at_nyp.created_at) == (
        "Women's restroom",
        "es",
        True,
        NOW,
    )
    assert where(at_nyp) == "New York Penn Station (NYP)" and where(on_66) == "Train 66"
    assert on_66.lang == "en"


@pytest.mark.parametrize(
    ("spot", "lang", "message"),
    [
        (" ", "en", "spot is empty"),
        ("x" * 201, "en", "longer than 200"),
        ("Lobby", "de", "'de' is not one of en, es, fr"),
    ],
)
def test_bad_placements_are_refused(session: Session, spot: str, lang: str, message: str) -> None:
    nyp = factories.station(session)
    with pytest.raises(InvalidPlacement, match=message):
        add_placement(session, station=nyp, spot=spot, lang=lang, now=NOW)


def test_a_placement_is_at_one_place(session: Session) -> None:
    nyp = factories.station(session)
    t66 = factories.train(session)
    with pytest.raises(InvalidPlacement):
        add_placement(session, station=nyp, train=t66, spot="Lobby", now=NOW)
    with pytest.raises(InvalidPlacement):
        add_placement(session, spot="Lobby", now=NOW)


def test_a_code_collision_is_retried(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    nyp = factories.station(session)
    taken = factories.placement(session, station=nyp).code
    body = "K7Q2M9X"
    fresh = body + codes.check_symbol(body)
    offered = iter([taken, fresh])
    monkeypatch.setattr(codes, "new_code", lambda: next(offered))
    assert add_placement(session, station=nyp, spot="Lobby", now=NOW).code == fresh


def test_all_stations_skips_covered_ones_and_repeats_safely(session: Session) -> None:
    nyp = factories.station(session)
    was = factories.station(session, **factories.WAS)
    phl = factories.station(session, **factories.PHL)
    gone = factories.station(session, **factories.NWK)
    gone.in_feed = False
    other = factories.station(session, feed="other", code="MTRL", name="Montréal", state="QC")
    factories.placement(session, station=nyp, spot="Restroom")
    retired = factories.placement(session, station=was, spot="Restroom")
    retired.active = False
    factories.placement(session, station=phl, spot="Lobby")

    made, skipped = add_station_placements(session, spot="Restroom", now=NOW, feed="test")
    assert sorted(p.station.code for p in made) == ["PHL", "WAS"]  # type: ignore[union-attr]
    assert skipped == 1  # NYP; NWK is no longer in the feed, Montréal in another feed

    again, skipped = add_station_placements(session, spot="Restroom", now=NOW)
    assert [p.station for p in again] == [other] and skipped == 3
    assert add_station_placements(session, spot="Restroom", now=NOW) == ([], 4)


def test_find_placement_normalizes_and_loads_in_one_query(session: Session) -> None:
    nyp = factories.station(session)
    code = factories.placement(session, station=nyp).code
    session.commit()
    session.expunge_all()
    statements: list[str] = []

    def record(*args: object) -> None:
        if str(args[2]).startswith("SELECT"):
            statements.append(str(args[2]))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        typed = f" {codes.display(code).lower()} ".replace("1", "l").replace("0", "o")
        found = find_placement(session, typed)
        assert found is not None and found.code == code
        assert found.station is not None and found.station.name == "New York Penn Station"
        assert found.train is None
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 1


def test_find_placement_returns_retired_and_none_for_unknown(session: Session) -> None:
    t66 = factories.train(session)
    pl = factories.placement(session, train=t66, spot="Car 3")
    retire_placement(session, pl.code, now=NOW)
    found = find_placement(session, pl.code)
    assert found is pl and not found.active and found.train is t66
    body = "ABCDEFG"
    assert find_placement(session, body + codes.check_symbol(body)) is None
    assert find_placement(session, "nonsense") is None
    assert find_placement(session, pl.code[:-1] + ("0" if pl.code[-1] != "0" else "1")) is None


def test_parse_code_explains_what_is_wrong() -> None:
    body = "K7Q2M9X"
    good = body + codes.check_symbol(body)
    assert parse_code("k7q2-m9x" + good[-1].lower()) == good
    wrong = good[:-1] + ("A" if good[-1] != "A" else "B")
    with pytest.raises(InvalidCode, match="K7Q2-M9X.: the last symbol does not match"):
        parse_code(wrong)
    with pytest.raises(InvalidCode, match="codes have 8 symbols"):
        parse_code("K7Q2")
    with pytest.raises(InvalidCode, match="U cannot appear in a code"):
        parse_code("K7Q2M9XU")


def test_retire_keeps_the_first_retirement(session: Session) -> None:
    pl = factories.placement(session, station=factories.station(session))
    retire_placement(session, pl.code, now=NOW)
    retire_placement(session, pl.code, now=NOW + timedelta(days=1))
    assert (pl.active, pl.retired_at) == (False, NOW)
    body = "ABCDEFG"
    with pytest.raises(PlacementNotFound):
        retire_placement(session, body + codes.check_symbol(body), now=NOW)


def test_station_codes_across_feeds(session: Session) -> None:
    nyp = factories.station(session)
    demo_nyp = factories.station(session, feed="demo")
    assert find_station(session, "test:NYP") is nyp
    assert find_station(session, " DEMO:nyp ") is demo_nyp
    with pytest.raises(AmbiguousLocation) as caught:
        find_station(session, "NYP")
    assert "FEED:CODE" in str(caught.value)
    assert "demo:NYP" in str(caught.value) and "test:NYP" in str(caught.value)
    with pytest.raises(UnknownLocation, match="no station 'XYZ'"):
        find_station(session, "XYZ")


def test_two_stations_of_one_feed_with_one_code(session: Session) -> None:
    first = factories.station(session, code="SPR", name="Springfield, MA")
    second = Station(
        feed="test",
        stop_id="SPI",
        code="SPR",
        name="Springfield, IL",
        lat=39.8,
        lon=-89.65,
        timezone="America/Chicago",
        state="IL",
        country="US",
    )
    session.add(second)
    session.flush()
    with pytest.raises(AmbiguousLocation) as caught:
        find_station(session, "SPR")
    assert "test:SPI (Springfield, IL), test:SPR (Springfield, MA)" in str(caught.value)
    assert find_station(session, "test:SPI") is second
    assert find_station(session, "test:SPR").stop_id == "SPR" == first.stop_id


def test_train_numbers_across_feeds(session: Session) -> None:
    t66 = factories.train(session)
    other = factories.train(session, number="66", feed="other", route="Other line")
    assert find_train(session, "test:66") is t66 and find_train(session, "other:66") is other
    with pytest.raises(AmbiguousLocation, match="other:66 \\(Other line\\)"):
        find_train(session, "66")
    with pytest.raises(UnknownLocation):
        find_train(session, "67")
