"""Choosing what to print: order, titles, URLs, and refusals a person can act on."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import PUBLIC_URL
from tests.posters.conftest import Network, qr_url, short_url
from tipline.locations.codes import check_symbol
from tipline.posters.layouts import get_layout
from tipline.posters.services import (
    EmptySelection,
    RetiredPlacement,
    SelectionError,
    posters_zip,
    select_items,
)


def test_all_prints_stations_by_name_then_trains_each_by_spot(
    session: Session, network: Network
) -> None:
    items = select_items(session, public_url=PUBLIC_URL, all_=True)
    assert [i.code for i in items] == [p.code for p in network.all]
    assert [i.group_title for i in items] == [
        "Montréal Gare Centrale — Salle des Pas Perdus, Québec (MTRL)",
        "New York Penn Station (NYP)",
        "New York Penn Station (NYP)",
        "Ny Moynihan Train Hall At Penn Station (NYM)",
        "Train 66 · Northeast Regional",
        "Train 66 · Northeast Regional",
    ]
    assert len({i.group_key for i in items}) == 4


def test_trains_sort_by_number_not_by_text(session: Session) -> None:
    for number in ("171", "66", "2150", "Acela"):
        factories.placement(session, train=factories.train(session, number=number))
    items = select_items(session, public_url=PUBLIC_URL, all_=True)
    assert [i.place.split(" · ")[0] for i in items] == [
        "Train 66",
        "Train 171",
        "Train 2150",
        "Train Acela",
    ]


def test_an_item_carries_the_upper_case_qr_url_and_the_short_url(
    session: Session, network: Network
) -> None:
    pl = network.nyp[1]
    (item,) = select_items(session, public_url=PUBLIC_URL, placement=pl.code.lower())
    assert item.url == qr_url(pl.code) == f"HTTPS://TIPS.EXAMPLE.ORG/T/{pl.code}"
    assert item.short_url == short_url(pl.code) == f"tips.example.org/t/{pl.code}"
    assert (item.lang, item.spot) == ("es", "Women's restroom, concourse A")
    assert item.place == "New York Penn Station (NYP)"


def test_a_station_or_a_train_gives_its_active_placements_only(
    session: Session, network: Network
) -> None:
    station = select_items(session, public_url=PUBLIC_URL, station="nyp")
    assert [i.code for i in station] == [p.code for p in network.nyp]
    train = select_items(session, public_url=PUBLIC_URL, train="66")
    assert [i.code for i in train] == [p.code for p in network.train66]


def test_a_retired_placement_is_refused(session: Session, network: Network) -> None:
    retired = factories.placement(session, station=network.nyp[0].station, spot="Gone")
    retired.active = False
    with pytest.raises(RetiredPlacement, match="retired"):
        select_items(session, public_url=PUBLIC_URL, placement=retired.code)


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ({"placement": "K7Q2M9X" + check_symbol("K7Q2M9X")}, "no placement has the code"),
        ({"placement": "NOPE"}, "not a placement code"),
        ({"station": "XYZ"}, "no station 'XYZ'"),
        ({"train": "9999"}, "no train '9999'"),
    ],
)
def test_unknown_codes_are_refused_by_name(
    session: Session, network: Network, selector: dict[str, str], message: str
) -> None:
    with pytest.raises(SelectionError, match=message):
        select_items(session, public_url=PUBLIC_URL, **selector)  # type: ignore[arg-type]


def test_an_empty_selection_is_refused(session: Session) -> None:
    empty = factories.station(session, code="EMP", name="Empty Junction")
    with pytest.raises(EmptySelection, match=r"Empty Junction \(EMP\) has no active placements"):
        select_items(session, public_url=PUBLIC_URL, station="EMP")
    with pytest.raises(EmptySelection, match="there are no active placements"):
        select_items(session, public_url=PUBLIC_URL, all_=True)
    assert empty.id


def test_exactly_one_selector(session: Session) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        select_items(session, public_url=PUBLIC_URL, station="NYP", all_=True)


def test_the_zip_holds_one_single_page_pdf_per_placement_named_by_code(
    session: Session, network: Network
) -> None:
    items = select_items(session, public_url=PUBLIC_URL, station="NYP")
    archive = zipfile.ZipFile(io.BytesIO(posters_zip(get_layout("sticker"), items)))
    assert archive.namelist() == [f"{p.code}.pdf" for p in network.nyp]
    for name in archive.namelist():
        pdf = archive.read(name)
        assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") == 1


def test_a_poster_riding_two_numbers_shows_the_route_and_both(session: Session) -> None:
    from tipline.locations.services import add_placement

    nyp = factories.station(session)
    west = factories.train(session, number="5", route="California Zephyr", stops=[(nyp, None, 60)])
    east = factories.train(session, number="6", route="California Zephyr", stops=[(nyp, 60, None)])
    pl = add_placement(session, trains=[west, east], spot="Car 531", now=datetime.now(UTC))
    session.commit()
    (by_five,) = select_items(session, public_url=PUBLIC_URL, train="5")
    (by_six,) = select_items(session, public_url=PUBLIC_URL, train="6")
    assert by_five.code == by_six.code == pl.code
    assert by_five.place == "California Zephyr, 5/6"
