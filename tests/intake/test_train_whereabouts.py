"""A tip from a train: every run of the poster's numbers, the traveler's answer to "which
station did the train last leave?", and routing by the answer, else by every candidate."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.intake.conftest import hms, post_tip, text_of
from tipline.config import get_settings
from tipline.intake.i18n import LANGUAGES
from tipline.intake.lookup import Poster
from tipline.intake.models import Tip
from tipline.intake.services import TipAnswers, last_station_choices, locate, submit_tip
from tipline.locations.models import Placement, Station, Train
from tipline.locations.services import add_placement, find_placement, where

NY = ZoneInfo("America/New_York")
MAX_PAGE = 14 * 1024


def line(session: Session) -> dict[str, Station]:
    """Six stations west from New York, one state each."""
    places = [
        ("NYP", "New York Penn", 40.7506, -73.9935),
        ("NWK", "Newark Penn", 40.7347, -74.1644),
        ("PHL", "Philadelphia", 39.9557, -75.1820),
        ("WIL", "Wilmington", 39.7369, -75.5510),
        ("BAL", "Baltimore Penn", 39.3077, -76.6156),
        ("WAS", "Washington Union", 38.8973, -77.0063),
    ]
    states = {"NYP": "NY", "NWK": "NJ", "PHL": "PA", "WIL": "DE", "BAL": "MD", "WAS": "DC"}
    return {
        code: factories.station(session, code=code, name=name, lat=lat, lon=lon, state=states[code])
        for code, name, lat, lon in places
    }


def zephyr(session: Session) -> tuple[Train, Train]:
    """Train 5 runs NYP -> WAS over two days (so two runs roll at once); 6 runs back."""
    st = line(session)
    west = factories.train(
        session,
        number="5",
        route="California Zephyr",
        stops=[
            (st["NYP"], None, hms(14)),
            (st["NWK"], hms(19), hms(19, 5)),
            (st["PHL"], hms(30), hms(30, 5)),
            (st["WIL"], hms(36), hms(36, 5)),
            (st["BAL"], hms(44), hms(44, 5)),
            (st["WAS"], hms(50), None),
        ],
    )
    east = factories.train(
        session,
        number="6",
        route="California Zephyr",
        stops=[(st["WAS"], None, hms(9)), (st["NYP"], hms(20), None)],
    )
    return west, east


def at(*when: int) -> datetime:
    return datetime(*when, tzinfo=NY).astimezone(UTC)  # type: ignore[misc]


# 10 June 23:00 in New York: 5 of the 9th is between Baltimore and Washington (left BAL at
# 20:05 today), 5 of the 10th between Newark and Philadelphia (left NWK 19:05); 6 is done.
EVENING = at(2026, 6, 10, 23, 0)


def test_a_car_that_turns_around_rides_as_both_numbers(session: Session) -> None:
    west, east = zephyr(session)
    pl = add_placement(session, trains=[west, east], spot="Car 531", now=EVENING)
    session.commit()
    found = find_placement(session, pl.code)
    assert found is not None and [t.number for t in found.trains] == ["5", "6"]
    assert where(found) == "California Zephyr, 5/6"
    poster = Poster.of(found)
    assert (poster.train_number, poster.train_ids) == ("5/6", (west.id, east.id))

    location = locate(session, poster, EVENING)
    runs = location.columns["train_runs"]
    assert [
        (r["train"], r["service_date"], r["last"]["code"], r["next"]["code"]) for r in runs
    ] == [
        ("5", "2026-06-09", "BAL", "WAS"),
        ("5", "2026-06-10", "NWK", "PHL"),
    ]
    # No answer and two runs: both runs' states hear of it, and no single run is claimed.
    assert location.jurisdictions == ("DC", "MD", "NJ", "PA")
    assert location.columns.get("last_stop_code") is None
    assert location.columns["train_number"] == "5/6" and location.moving


def test_the_form_offers_the_stations_left_nearest_first(session: Session) -> None:
    west, east = zephyr(session)
    pl = add_placement(session, trains=[west, east], spot="Car 531", now=EVENING)
    session.commit()
    poster = Poster.of(pl)
    choices = last_station_choices(session, poster, EVENING, get_settings())
    # Each run's last stop and the two before it, most recently left first.
    assert [code for code, _name in choices] == ["BAL", "NWK", "NYP", "WIL", "PHL"]
    # Nothing under way (the timetable ended in 2027): the route's stations, in order.
    quiet = last_station_choices(session, poster, at(2028, 3, 1, 8), get_settings())
    assert [code for code, _ in quiet] == ["NYP", "NWK", "PHL", "WIL", "BAL", "WAS"]
    # A station poster asks nothing.
    station = Poster.of(
        add_placement(session, station=west.trips[0].stops[0].station, spot="Hall", now=EVENING)
    )
    assert last_station_choices(session, station, EVENING, get_settings()) == []


def test_the_answer_picks_the_run_and_routes_the_tip(session: Session) -> None:
    west, east = zephyr(session)
    pl = add_placement(session, trains=[west, east], spot="Car 531", now=EVENING)
    session.commit()
    receipt = submit_tip(
        session,
        placement=pl,
        answers=TipAnswers(details="seen", last_station="wil"),
        token="t1",
        now=EVENING,
        secret="s",
    )
    session.commit()
    tip = session.get_one(Tip, receipt.tip_id)
    assert (tip.traveler_last_stop_code, tip.traveler_last_stop_name) == ("WIL", "Wilmington")
    assert (tip.last_stop_code, tip.next_stop_code) == ("WIL", "BAL")
    assert (tip.trip_id, tip.service_date) == ("5-daily", date(2026, 6, 9))
    assert tip.jurisdiction_codes() == ["DE", "MD"]
    assert len(tip.train_runs or []) == 2  # the computed candidates are kept beside the answer
    # A station earlier than the last one (a late train): the stop after it is next.
    later = submit_tip(
        session,
        placement=pl,
        answers=TipAnswers(details="seen", last_station="NYP"),
        token="t2",
        now=EVENING,
        secret="s",
    )
    session.commit()
    second = session.get_one(Tip, later.tip_id)
    assert (second.last_stop_code, second.next_stop_code) == ("NYP", "NWK")
    assert second.jurisdiction_codes() == ["NJ", "NY"]


def test_an_answer_off_the_runs_routes_to_that_station_and_a_stranger_is_ignored(
    session: Session,
) -> None:
    west, east = zephyr(session)
    pl = add_placement(session, trains=[west, east], spot="Car 531", now=EVENING)
    session.commit()
    location = locate(session, Poster.of(pl), EVENING, last_station="WAS")
    assert location.jurisdictions == ("DC",)
    assert location.columns["traveler_last_stop_code"] == "WAS"
    assert location.columns.get("last_stop_code") is None
    stranger = locate(session, Poster.of(pl), EVENING, last_station="<script>")
    assert "traveler_last_stop_code" not in stranger.columns
    assert stranger.jurisdictions == ("DC", "MD", "NJ", "PA")


def test_the_form_asks_and_the_answer_reaches_the_tip(
    client: FlaskClient, session: Session
) -> None:
    west, east = zephyr(session)
    pl = add_placement(session, trains=[west, east], spot="Car 531", now=EVENING)
    session.commit()
    html = client.get(f"/T/{pl.code}").get_data(as_text=True)
    assert "Which station did the train last leave?" in text_of(html)
    select_html = html[html.index("<select") : html.index("</select>")]
    assert '<option value="">I don&#39;t know</option>' in select_html
    offered = set(re.findall(r'<option value="([A-Z]+)"', select_html))
    assert offered and offered <= {"NYP", "NWK", "PHL", "WIL", "BAL", "WAS"}
    status, page = post_tip(
        client, f"/T/{pl.code}", details="A man holds her ID", last_station="PHL"
    )
    assert status == 200, page
    tip = session.scalars(select(Tip)).one()
    assert tip.traveler_last_stop_code == "PHL"
    assert "PA" in tip.jurisdiction_codes()
    # The answer survives a validation error, like everything typed.
    picked = sorted(offered)[0]
    status, page = post_tip(client, f"/T/{pl.code}", people="many", last_station=picked)
    assert status == 400 and f'<option value="{picked}" selected>' in page


def test_the_question_is_translated(client: FlaskClient, session: Session) -> None:
    west, _east = zephyr(session)
    pl = add_placement(session, trains=[west], spot="Car 2", now=EVENING)
    session.commit()
    for lang, question in (
        ("es", "¿De qué estación salió el tren por última vez?"),
        ("fr", "Quelle est la dernière gare que le train a quittée ?"),
    ):
        assert question in text_of(client.get(f"/T/{pl.code}?lang={lang}").get_data(as_text=True))


def test_a_long_route_keeps_the_page_small(client: FlaskClient, session: Session) -> None:
    stations = [
        factories.station(
            session,
            code=f"S{n:02d}",
            name=f"Saint-Jean-sur-Richelieu Intermodal Station {n}",
            lat=45.3 + n / 100,
            lon=-73.26,
            state="QC",
        )
        for n in range(45)
    ]
    # Runs only on a Sunday in 2030: never under way, so the whole route is offered.
    train = factories.train(
        session,
        number="9999",
        stops=[(s, hms(8 + n // 6), hms(8 + n // 6)) for n, s in enumerate(stations)],
        service_id="once",
        weekdays="0000000",
    )
    pl = add_placement(session, trains=[train], spot="Voiture 8", now=EVENING)
    session.commit()
    for lang in LANGUAGES:
        html = client.get(f"/T/{pl.code}?lang={lang}").get_data(as_text=True)
        assert html.count('<option value="S') == 45
        assert len(html.encode()) <= MAX_PAGE, f"{lang}: {len(html.encode())} bytes"


def test_an_old_single_number_placement_still_works(session: Session) -> None:
    west, _east = zephyr(session)
    pl = factories.placement(session, train=west, spot="Car 1")  # no placement_train row
    session.commit()
    found = session.get_one(Placement, pl.id)
    assert [t.number for t in found.trains] == ["5"] and where(found) == "Train 5"
    assert Poster.of(found).train_ids == (west.id,)
