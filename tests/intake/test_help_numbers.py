"""The right help for each country: a Canadian placement shows and prints the Canadian hotline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import PUBLIC_URL, shared_feed
from tests.intake.conftest import TOKEN_RE, Posters, text_of
from tests.posters.conftest import page_texts
from tipline.locations import help as help_numbers
from tipline.locations.gtfs import import_feed
from tipline.locations.models import Station, Train
from tipline.posters.layouts import get_layout, posters_dir
from tipline.posters.render import render_posters
from tipline.posters.services import select_items

US_CALL, US_TEXT, CA_CALL = "1-888-373-7888", "233733", "1-833-900-1010"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_the_numbers_are_data_per_country_with_region_overrides(tmp_path: Path) -> None:
    book = help_numbers.load(posters_dir())
    us, ca = book.for_country("US"), book.for_country("CA")
    assert (us.emergency, us.hotline_call, us.hotline_text) == ("911", US_CALL, US_TEXT)
    assert (ca.emergency, ca.hotline_call, ca.hotline_text) == ("911", CA_CALL, "")
    assert ca.call_uri == "tel:+18339001010"
    assert "Canadian" in ca.name("en") and "canadienne" in ca.name("fr")
    assert book.for_place("QC", "CA") == ca and book.for_place("NY", "US") == us
    # California ("CA" the region) is in the US: a region is never read as a country.
    assert book.for_place("CA", "US") == us
    assert book.for_places([]) == [us, ca]  # no place known: both countries
    own = tmp_path / "help.toml"
    own.write_text(
        (posters_dir() / "help.toml").read_text() + '[region.QC]\nhotline_call = "1-800-555-0199"\n'
    )
    quebec = help_numbers.read(tmp_path).for_place("QC", "CA")
    assert quebec.hotline_call == "1-800-555-0199" and quebec.names == ca.names
    assert help_numbers.read(tmp_path).for_place("ON", "CA").hotline_call == CA_CALL


def test_bad_help_data_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "help.toml").write_text('[country.US]\nemergency = "911"\n')
    with pytest.raises(help_numbers.HelpDataError, match="country.US.hotline_call"):
        help_numbers.read(tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "help.toml").write_text(
        (posters_dir() / "help.toml").read_text() + '[region.ZZ]\nemergency = "1"\n'
    )
    with pytest.raises(help_numbers.HelpDataError, match="region.ZZ"):
        help_numbers.read(tmp_path / "x")


def test_a_us_poster_keeps_the_us_numbers(client: FlaskClient, posters: Posters) -> None:
    for path in (f"/T/{posters.station}", f"/T/{posters.train}", f"/help?at={posters.station}"):
        text = text_of(client.get(path).get_data(as_text=True))
        assert f"Call {US_CALL}" in text, path
        assert CA_CALL not in text, path


def test_without_a_code_both_countries_are_offered(client: FlaskClient) -> None:
    for path in ("/report", "/help", "/help?lang=fr"):
        text = text_of(client.get(path).get_data(as_text=True))
        assert US_CALL in text and CA_CALL in text, path


def test_a_canadian_station_shows_canadian_help_in_english_and_french(
    client: FlaskClient, session: Session
) -> None:
    montreal = factories.station(
        session, code="MTRL", name="Montréal", lat=45.5, lon=-73.57, state="QC"
    )
    code = factories.placement(session, station=montreal, lang="fr").code
    session.commit()
    page = client.get(f"/T/{code}").get_data(as_text=True)
    assert 'href="tel:+18339001010"' in page and "sms:" not in page
    french = text_of(page)
    assert f"Appelez le {CA_CALL}" in french
    assert US_CALL not in french and US_TEXT not in french
    assert f"/help?lang=fr&amp;at={code}" in page  # the help link keeps the country
    french = text_of(client.get(f"/help?lang=fr&at={code}").get_data(as_text=True))
    assert f"Appelez le {CA_CALL}" in french and "Ligne d’urgence canadienne" in french
    english = text_of(client.get(f"/help?lang=en&at={code}").get_data(as_text=True))
    assert f"Call {CA_CALL}" in english and "Canadian Human Trafficking Hotline" in english
    assert US_CALL not in french + english


def test_a_via_rail_station_form_help_page_and_poster_show_the_canadian_hotline(
    client: FlaskClient, session: Session
) -> None:
    report = import_feed(session, shared_feed("via-rail-gtfs"), feed=None, now=NOW)
    station = session.query(Station).filter_by(feed=report.feed, code="TRTO").one()
    train = session.query(Train).filter_by(feed=report.feed).first()
    assert train is not None
    at_station = factories.placement(session, station=station, lang="en")
    on_train = factories.placement(session, train=train, spot="Car 2")
    session.commit()
    for path in (f"/T/{at_station.code}", f"/help?at={at_station.code}", f"/T/{on_train.code}"):
        text = text_of(client.get(path).get_data(as_text=True))
        assert f"Call {CA_CALL}" in text, path
        assert US_CALL not in text and US_TEXT not in text, path
    help_page = text_of(client.get(f"/help?at={on_train.code}").get_data(as_text=True))
    assert "Canadian Human Trafficking Hotline" in help_page
    layout = get_layout("letter")
    items = select_items(session, public_url=PUBLIC_URL, station="TRTO", help_book=layout.help_book)
    (poster,) = page_texts(render_posters(layout, items))
    assert f"call {CA_CALL}" in poster and f"llame al {CA_CALL}" in poster
    assert US_CALL not in poster and US_TEXT not in poster


def test_the_thank_you_page_follows_the_placement_country(
    client: FlaskClient, session: Session
) -> None:
    montreal = factories.station(session, code="MTRL", name="Montréal", state="QC")
    code = factories.placement(session, station=montreal, lang="fr").code
    session.commit()
    form = client.get(f"/T/{code}").get_data(as_text=True)
    token = TOKEN_RE.search(form)
    assert token is not None
    sent = client.post(f"/T/{code}", data={"token": token[1], "lang": "fr", "details": "Un fait."})
    text = text_of(sent.get_data(as_text=True))
    assert "Merci" in text and f"Appelez le {CA_CALL}" in text and US_CALL not in text


def test_without_a_code_each_hotline_names_its_country_in_the_page_language(
    client: FlaskClient,
) -> None:
    spanish = text_of(client.get("/report?lang=es").get_data(as_text=True))
    assert f"Llame al {US_CALL} (Estados Unidos)" in spanish
    assert f"Llame al {CA_CALL} (Canadá)" in spanish


def test_an_arabic_placement_opens_its_form_in_arabic_with_the_us_hotline_isolated(
    client: FlaskClient, session: Session
) -> None:
    code = factories.placement(session, station=factories.station(session), lang="ar").code
    session.commit()
    page = client.get(f"/T/{code}").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page and "Report what you saw" not in page
    # The number keeps its left-to-right order inside the Arabic sentence.
    assert f"\u2066{US_CALL}\u2069" in page
