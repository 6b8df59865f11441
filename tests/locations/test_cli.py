"""The `tipline` commands for GTFS, stations, trains and placements, as a person runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import PUBLIC_URL
from tests.locations.conftest import HARD_FEED, count, write_feed
from tipline.locations import codes
from tipline.locations.models import Placement

Invoke = Callable[..., Result]


def test_gtfs_import_prints_a_report(invoke: Invoke, hard_feed: Path, session: Session) -> None:
    result = invoke("gtfs", "import", str(hard_feed), "--feed", "hard")
    assert result.exit_code == 0, result.output
    assert "Imported feed 'hard'" in result.output
    assert "stations:   4 (4 added, 0 updated, 0 unchanged, 0 no longer listed)" in result.output
    assert "skipped 1 not on rail (bus...), 1 without a train number" in result.output
    assert count(session, "station") == 4

    again = invoke("gtfs", "import", str(hard_feed), "--feed", "hard")
    assert "stations:   4 (0 added, 0 updated, 4 unchanged" in again.output


def test_gtfs_import_errors_exit_non_zero_and_write_nothing(
    invoke: Invoke, tmp_path: Path, session: Session
) -> None:
    files = dict(HARD_FEED)
    files["stop_times.txt"] = files["stop_times.txt"].replace("9:05:00,9:07:00", "9:05,9:07:00")
    result = invoke("gtfs", "import", str(write_feed(tmp_path / "bad", files)))
    assert result.exit_code == 1
    assert "Error: stop_times.txt line 8: arrival_time '9:05' is not a time" in result.output
    assert "nothing imported" in result.output
    assert count(session, "station") == 0

    del files["stops.txt"]
    missing = invoke("gtfs", "import", str(write_feed(tmp_path / "nostops", files)))
    assert missing.exit_code == 1 and "stops.txt: required file missing" in missing.output


def test_stations_list_json_and_table(invoke: Invoke, hard_feed: Path) -> None:
    invoke("gtfs", "import", str(hard_feed), "--feed", "hard")
    rows = json.loads(invoke("stations", "list", "--json").output)
    assert {r["code"] for r in rows} == {"MTRL", "NYP", "ALB", "BUS1"}
    mtl = next(r for r in rows if r["code"] == "MTRL")
    assert mtl == {
        "feed": "hard",
        "code": "MTRL",
        "stop_id": "MTL",
        "name": "Montréal, Gare Centrale",
        "state": "QC",
        "country": "CA",
        "state_by_boundaries": "QC",
        "state_set_by_person": None,
        "border_km": None,
        "border_with": None,
        "state_note": None,
        "timezone": "America/Toronto",
        "lat": 45.4998,
        "lon": -73.566,
        "in_feed": True,
    }
    quebec = json.loads(invoke("stations", "list", "--json", "--state", "qc").output)
    assert [r["code"] for r in quebec] == ["MTRL"]
    table = invoke("stations", "list").output
    assert table.splitlines()[0].split() == ["FEED", "CODE", "NAME", "STATE", "TIME", "ZONE"]
    assert "Montréal, Gare Centrale" in table and table.rstrip().endswith("4 stations")


def test_trains_list_json_and_table(invoke: Invoke, hard_feed: Path) -> None:
    invoke("gtfs", "import", str(hard_feed), "--feed", "hard")
    rows = json.loads(invoke("trains", "list", "--json").output)
    assert rows == [
        {
            "feed": "hard",
            "number": "68",
            "route": "Adirondack, via Albany",
            "trips": 1,
            "in_feed": True,
        },
        {
            "feed": "hard",
            "number": "69",
            "route": "Adirondack, via Albany",
            "trips": 2,
            "in_feed": True,
        },
    ]
    table = invoke("trains", "list").output
    assert "Adirondack, via Albany" in table and "2 trains" in table


def test_placements_add_list_retire(invoke: Invoke, session: Session) -> None:
    factories.station(session)
    factories.train(session)
    session.commit()

    added = invoke(
        "placements", "add", "--station", "NYP", "--spot", "Women's restroom", "--lang", "es"
    )
    assert added.exit_code == 0, added.output
    on_train = invoke("placements", "add", "--train", "66", "--spot", "Car 3 vestibule")
    assert on_train.exit_code == 0, on_train.output
    rows = json.loads(invoke("placements", "list", "--json").output)
    assert [(r["station"], r["train"], r["spot"], r["lang"], r["active"]) for r in rows] == [
        ("NYP", None, "Women's restroom", "es", True),
        (None, "66", "Car 3 vestibule", "en", True),
    ]
    code = rows[0]["code"]
    assert codes.is_valid(code)
    assert rows[0]["url"] == f"{PUBLIC_URL.upper()}/T/{code}"
    assert rows[0]["url"] in added.output and codes.display(code) in added.output

    only_train = json.loads(invoke("placements", "list", "--train", "66", "--json").output)
    assert [r["code"] for r in only_train] == [rows[1]["code"]]

    retired = invoke("placements", "retire", codes.display(code).lower())
    assert retired.exit_code == 0 and "retired" in retired.output
    after = json.loads(invoke("placements", "list", "--station", "NYP", "--json").output)
    assert after[0]["active"] is False and after[0]["retired_at"]
    assert "already retired" in invoke("placements", "retire", code).output
    table = invoke("placements", "list").output
    assert "retired" in table and "Train 66" in table and "2 placements" in table


def test_all_stations_is_idempotent(invoke: Invoke, session: Session) -> None:
    factories.station(session)
    factories.station(session, **factories.WAS)
    session.commit()
    first = invoke("placements", "add", "--all-stations", "--spot", "Restroom")
    assert first.exit_code == 0
    assert "made 2 placements; skipped 0 stations" in first.output
    second = invoke("placements", "add", "--all-stations", "--spot", "Restroom")
    assert "made 0 placements; skipped 2 stations" in second.output
    assert len(session.scalars(select(Placement)).all()) == 2


def test_placement_errors(invoke: Invoke, session: Session) -> None:
    factories.station(session)
    factories.station(session, feed="demo")
    session.commit()

    ambiguous = invoke("placements", "add", "--station", "NYP", "--spot", "Lobby")
    assert ambiguous.exit_code == 1
    assert "ambiguous" in ambiguous.output and "FEED:CODE" in ambiguous.output
    assert invoke("placements", "add", "--station", "demo:NYP", "--spot", "Lobby").exit_code == 0

    unknown = invoke("placements", "add", "--station", "XYZ", "--spot", "Lobby")
    assert unknown.exit_code == 1 and "no station 'XYZ'" in unknown.output
    both = invoke("placements", "add", "--station", "demo:NYP", "--train", "66", "--spot", "x")
    assert both.exit_code == 2 and "exactly one of" in both.output
    lang = invoke("placements", "add", "--station", "demo:NYP", "--spot", "x", "--lang", "de")
    assert lang.exit_code == 2 and "'de' is not one of" in lang.output

    body = "K7Q2M9X"
    wrong = body + ("A" if codes.check_symbol(body) != "A" else "B")
    mistyped = invoke("placements", "retire", wrong)
    assert mistyped.exit_code == 1 and "mistyped" in mistyped.output
    good = body + codes.check_symbol(body)
    absent = invoke("placements", "retire", good)
    assert absent.exit_code == 1 and "no placement has the code K7Q2-M9X" in absent.output


def test_trains_where_text_json_and_bad_input(invoke: Invoke, session: Session) -> None:
    nyp = factories.station(session)
    phl = factories.station(session, **factories.PHL)
    factories.train(session, number="171", stops=[(nyp, None, 8 * 3600), (phl, 9 * 3600, None)])
    session.commit()
    text = invoke("trains", "where", "171", "--at", "2026-06-10T12:30:00Z")
    assert text.exit_code == 0, text.output
    assert (
        "Train 171 (Northeast Regional) at 2026-06-10 12:30 UTC: 1 run(s) under way" in text.output
    )
    assert "next: Philadelphia 30th Street (PHL, PA) 2026-06-10 13:00 UTC = 09:00 EDT local" in (
        text.output
    )
    report = json.loads(
        invoke("trains", "where", "171", "--at", "2026-06-10T08:30-04:00", "--json").output
    )
    assert report["at"] == "2026-06-10T12:30:00+00:00" and report["under_way"] == 1
    idle = invoke("trains", "where", "171", "--at", "2026-06-10T20:00:00Z")
    assert "no run under way" in idle.output and "last to arrive" in idle.output
    naive = invoke("trains", "where", "171", "--at", "2026-06-10T12:30")
    assert naive.exit_code == 2 and "has no time zone" in naive.output
    garbage = invoke("trains", "where", "171", "--at", "tuesday")
    assert garbage.exit_code == 2 and "is not an ISO-8601 instant" in garbage.output
    unknown = invoke("trains", "where", "999")
    assert unknown.exit_code == 1 and "no train '999'" in unknown.output


def test_a_placement_on_two_train_numbers(invoke: Invoke, session: Session) -> None:
    nyp = factories.station(session)
    factories.train(session, number="5", route="California Zephyr", stops=[(nyp, None, 60)])
    factories.train(session, number="6", route="California Zephyr", stops=[(nyp, 60, None)])
    session.commit()
    added = invoke("placements", "add", "--train", "5", "--train", "6", "--spot", "Car 531")
    assert added.exit_code == 0 and "California Zephyr, 5/6 · Car 531" in added.output
    (row,) = json.loads(invoke("placements", "list", "--train", "6", "--json").output)
    assert (row["train"], row["trains"], row["where"]) == (
        "5",
        ["5", "6"],
        "California Zephyr, 5/6",
    )
    same = invoke("placements", "add", "--train", "5/6", "--spot", "Car 532")
    assert same.exit_code == 0 and "5/6" in same.output
    mixed = invoke("placements", "add", "--train", "5", "--station", "NYP", "--spot", "x")
    assert mixed.exit_code == 2


def test_trains_where_refuses_instants_no_timetable_reaches(
    invoke: Invoke, session: Session
) -> None:
    nyp = factories.station(session)
    factories.train(session, number="171", stops=[(nyp, None, 60)])
    session.commit()
    for far in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"):
        result = invoke("trains", "where", "171", "--at", far)
        assert result.exit_code == 2 and "too far from any timetable" in result.output, far
