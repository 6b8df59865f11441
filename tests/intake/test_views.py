"""The traveler's pages through the test client: what a person sees and what gets stored."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import date
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tests.intake.conftest import Posters, form_token, post_tip, receipt_in, text_of
from tipline.intake.i18n import LANGUAGES
from tipline.intake.models import LocationKind, Tip
from tipline.intake.services import receipt_hash
from tipline.intake.views import QUICK_EXIT_JS, SEND_JS
from tipline.locations.codes import check_symbol, display
from tipline.locations.models import Placement, ScanCount

HOTLINE = ("1-888-373-7888", "233733")
MAX_PAGE = 14 * 1024


def tips(session: Session) -> list[Tip]:
    session.commit()  # end the test's snapshot: see what the request committed
    return list(session.scalars(select(Tip).order_by(Tip.id)))


# --- where the poster is ------------------------------------------------------------------


def test_station_form_shows_where_the_poster_is(client: FlaskClient, posters: Posters) -> None:
    response = client.get(f"/T/{posters.station}")
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    where = "New York Penn Station (NYP) · Women's restroom, concourse A · poster "
    where += display(posters.station)
    assert where in text
    assert "This site is tips.example.org." in text


def test_train_form_shows_the_train_and_asks_for_car_and_direction(
    client: FlaskClient, posters: Posters
) -> None:
    html = client.get(f"/T/{posters.train}").get_data(as_text=True)
    assert "Train 66 · Northeast Regional · Car 3 vestibule" in text_of(html)
    assert 'name="car"' in html and 'name="direction"' in html
    assert 'name="typed_place"' not in html
    assert 'value="Car 3 vestibule"' in html  # "where exactly" starts from the poster's spot


def test_code_is_read_case_insensitively_with_look_alikes(
    client: FlaskClient, session: Session
) -> None:
    body = "10K7Q2M"
    code = body + check_symbol(body)
    session.add(Placement(code=code, station=factories.station(session), spot="Gate 4"))
    session.commit()
    typed = "io" + code[2:].lower()  # a person reading "1" as "I" and "0" as "O"
    for path in (f"/t/{typed}", f"/T/{code[:4]}-{code[4:]}", f"/t/{code}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Gate 4" in text_of(response.get_data(as_text=True))
        assert f'action="/T/{code}"' in response.get_data(as_text=True)


def test_unknown_code_gives_a_working_form_asking_where(
    client: FlaskClient, session: Session
) -> None:
    response = client.get("/T/K7Q2M9XQ")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "We don't know the poster code “K7Q2M9XQ”. You can still report" in text_of(html)
    assert '<label for="typed_place">Where are you?</label>' in html
    status, page = post_tip(client, "/T/K7Q2M9XQ", details="Girl crying", typed_place="Gate 12")
    assert status == 200 and receipt_in(page)
    (tip,) = tips(session)
    assert (tip.location_kind, tip.typed_place) == (LocationKind.UNKNOWN, "Gate 12")
    assert tip.jurisdiction_codes() == ["national"]


def test_retired_poster_still_takes_reports(
    client: FlaskClient, posters: Posters, session: Session
) -> None:
    response = client.get(f"/t/{posters.retired.lower()}")
    assert response.status_code == 410
    assert "This poster has been retired. Your report still reaches us." in text_of(
        response.get_data(as_text=True)
    )
    status, _page = post_tip(client, f"/T/{posters.retired}", details="Seen near the stairs")
    assert status == 200
    assert tips(session)[0].spot == "Platform 7 stairs"


def test_report_without_a_code_from_the_landing_page(client: FlaskClient) -> None:
    landing = client.get("/")
    assert landing.status_code == 200
    html = landing.get_data(as_text=True)
    assert 'action="/go"' in html and 'href="/report?lang=en"' in html
    assert client.get("/go?code=k7q2-m9xq").headers["Location"] == "/T/K7Q2M9XQ"
    assert client.get("/go?code=").headers["Location"] == "/report"
    report = client.get("/report")
    assert report.status_code == 200
    assert "Tell us where you are, then what you saw." in text_of(report.get_data(as_text=True))


def test_help_page_gives_the_hotline_and_911_and_asks_nothing(client: FlaskClient) -> None:
    response = client.get("/help")
    html = response.get_data(as_text=True)
    text = text_of(html)
    assert response.status_code == 200
    assert "Do you need help yourself?" in text
    assert "Call 1-888-373-7888" in text and "Text 233733" in text
    assert "24/7" in text and "over 200 languages by phone" in text
    assert 'href="tel:+18883737888"' in html and 'href="sms:233733"' in html
    assert 'href="tel:911"' in html
    assert "<form" not in html and "<input" not in html


# --- every public page ----------------------------------------------------------------------

PUBLIC = ("/", "/help", "/report", "/T/{station}", "/T/{train}", "/T/{retired}", "/T/K7Q2M9XQ")


def public_pages(
    client: FlaskClient, posters: Posters
) -> dict[str, tuple[int, str, dict[str, str]]]:
    pages = {}
    for template in (*PUBLIC, "/no/such/page"):
        for lang in LANGUAGES:
            path = template.format(**vars(posters)) + f"?lang={lang}"
            response = client.get(path)
            pages[path] = (
                response.status_code,
                response.get_data(as_text=True),
                dict(response.headers),
            )
    return pages


class Resources(HTMLParser):
    """Everything in a page that would make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.style = ""
        self.scripts: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link":
            self.fetches.append(f"link rel={a.get('rel')} href={a.get('href')}")
        for name in ("src", "srcset", "poster", "data", "background"):
            if a.get(name):
                self.fetches.append(f"{tag} {name}={a[name]}")
        if tag in ("iframe", "object", "embed", "img", "video", "audio", "source", "base"):
            self.fetches.append(tag)
        if a.get("style") and "url(" in (a["style"] or ""):
            self.fetches.append(f"style url in {tag}")
        self._in = tag if tag in ("style", "script") else None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.style += data
        elif self._in == "script":
            self.scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def test_pages_are_small_and_load_nothing_from_anywhere(
    client: FlaskClient, posters: Posters
) -> None:
    for path, (_status, html, headers) in public_pages(client, posters).items():
        assert len(html.encode()) <= MAX_PAGE, f"{path}: {len(html.encode())} bytes"
        parser = Resources()
        parser.feed(html)
        # The one link allowed is the empty inline icon that stops the favicon request.
        assert parser.fetches == ["link rel=icon href=data:,"], path
        assert "url(" not in parser.style and "@import" not in parser.style, path
        # The quick exit's script (and on the form the background sender), each allowed by its
        # hash and nothing else.
        assert 1 <= len(parser.scripts) <= 2, path
        (policy,) = [p for p in headers["Content-Security-Policy"].split(";") if "script-src" in p]
        assert policy.split() == ["script-src"] + [
            f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
            for s in (QUICK_EXIT_JS, SEND_JS)
        ]
        for script in parser.scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy, path
        assert "default-src 'none'" in headers["Content-Security-Policy"]


def test_every_page_has_911_the_quick_exit_and_its_language(
    client: FlaskClient, posters: Posters
) -> None:
    for path, (_status, html, headers) in public_pages(client, posters).items():
        lang = path.rsplit("=", 1)[1]
        direction = "rtl" if lang == "ar" else "ltr"
        assert f'<html lang="{lang}" dir="{direction}">' in html, path
        assert re.search(r'<a class="call" href="tel:911">[^<]*911</a>', html), path
        assert 'id="qx" href="https://www.weather.gov/"' in html, path
        assert headers["Cache-Control"] == "no-store", path
        assert "Set-Cookie" not in headers, path


def test_form_fields_are_labelled_and_grouped(client: FlaskClient, posters: Posters) -> None:
    for path in (f"/T/{posters.train}", "/T/K7Q2M9XQ"):
        html = client.get(path).get_data(as_text=True)
        field = r"<(?:input|textarea|select)(?![^>]*type=\"hidden\")[^>]*"
        ids = re.findall(field + r"\sid=\"([^\"]+)\"", html)
        inputs = re.findall(r"<(?:input|textarea|select)(?![^>]*type=\"hidden\")[^>]*>", html)
        assert len(ids) == len(inputs) > 20
        # Labelled by `for=`, or by holding the input (checkboxes and radios: fewer bytes).
        nested = re.findall(r'<label class="c"><input[^>]*\sid="([^"]+)"', html)
        for field_id in ids:
            assert f'<label for="{field_id}"' in html or field_id in nested, field_id
        assert html.count("<fieldset>") == html.count("<legend>") >= 9
        for group in ("Control", "Travel", "Relationship", "Physical signs", "Behaviour"):
            assert f"<legend>{group}</legend>" in html


def test_the_form_never_asks_who_someone_is(client: FlaskClient, posters: Posters) -> None:
    text = text_of(client.get(f"/T/{posters.station}").get_data(as_text=True)).lower()
    for word in ("race", "ethnic", "gender", "religio", "skin", "nationality"):
        assert word not in text


def test_placement_language_is_the_default_and_can_be_switched(
    client: FlaskClient, session: Session
) -> None:
    pl = factories.placement(session, station=factories.station(session), lang="es")
    session.commit()
    html = client.get(f"/T/{pl.code}").get_data(as_text=True)
    assert '<html lang="es" dir="ltr">' in html and "Informe lo que vio" in html
    assert '<a href="?lang=fr" lang="fr">Français</a>' in html
    french = client.get(f"/T/{pl.code}?lang=fr").get_data(as_text=True)
    assert '<html lang="fr" dir="ltr">' in french
    unknown = client.get(f"/T/{pl.code}?lang=xx").get_data(as_text=True)
    assert '<html lang="es" dir="ltr">' in unknown


# --- sending --------------------------------------------------------------------------------

EVERYTHING = {
    "indicator": ["holds_documents", "branding"],
    "now": "no",
    "when_text": "About 20 minutes ago",
    "where_text": "Women's restroom <concourse A>",
    "people": "3",
    "descriptions": 'Red jacket & a "blue" backpack',
    "details": "Line one\nLine two",
    "contact": "call 555-0100",
    "consent": "yes",
}


def test_sending_stores_one_tip_and_thanks_with_a_receipt(
    client: FlaskClient, posters: Posters, session: Session
) -> None:
    path = f"/T/{posters.station}"
    token = form_token(client.get(path).get_data(as_text=True))
    response = client.post(path, data={"token": token, **EVERYTHING})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = text_of(html)
    assert "Thank you. We received your report." in text
    assert all(number in text for number in HOTLINE)
    receipt = receipt_in(html)
    (tip,) = tips(session)
    assert tip.receipt_hash == receipt_hash(receipt)
    assert tip.indicators == ["branding", "holds_documents"]
    assert (tip.happening_now, tip.when_text, tip.people_count) == (
        False,
        "About 20 minutes ago",
        3,
    )
    assert tip.where_text == "Women's restroom <concourse A>"
    assert tip.descriptions == 'Red jacket & a "blue" backpack'
    assert tip.details == "Line one\nLine two"
    assert (tip.contact, tip.consent_forward, tip.lang) == ("call 555-0100", True, "en")


def test_a_double_post_stores_one_tip_and_shows_the_same_receipt(
    client: FlaskClient, posters: Posters, session: Session
) -> None:
    path = f"/T/{posters.train}"
    token = form_token(client.get(path).get_data(as_text=True))
    first = client.post(path, data={"token": token, "details": "x", "car": "3"})
    again = client.post(path, data={"token": token, "details": "x", "car": "3"})
    assert first.status_code == again.status_code == 200
    assert receipt_in(first.get_data(as_text=True)) == receipt_in(again.get_data(as_text=True))
    assert len(tips(session)) == 1


def test_a_validation_error_keeps_everything_typed(
    client: FlaskClient, posters: Posters, session: Session
) -> None:
    path = f"/T/{posters.train}"
    typed = {**EVERYTHING, "details": "é" * 4001, "car": "3", "direction": "to Boston"}
    status, html = post_tip(client, path, **typed)
    assert status == 400
    assert "Too long: at most 4000 characters (now 4001)." in text_of(html)
    assert re.search(r'<p class="err" id="details-e">[^<]+</p><textarea id="details"', html)
    assert 'aria-invalid="true"' in html
    assert "é" * 4001 in html
    for name in ("when_text", "people", "contact", "car", "direction"):
        assert f'name="{name}" value="{typed[name]}"' in html
    assert 'value="Women&#39;s restroom &lt;concourse A&gt;"' in html
    assert "Red jacket &amp; a &#34;blue&#34; backpack</textarea>" in html
    for box in ("i-holds_documents", "i-branding", "now-n", "consent"):
        assert re.search(rf'id="{box}" [^>]*checked>', html), box
    assert not re.search(r'id="i-fearful" [^>]*checked>', html)
    assert tips(session) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Tell us at least one thing: tick what you saw or write a few words."),
        ({"where_text": "platform"}, "Tell us at least one thing"),
        ({"people": "lots", "details": "x"}, "Enter a number from 1 to 200, or leave it empty."),
        ({"people": "0", "details": "x"}, "Enter a number from 1 to 200"),
        ({"car": "9" * 33, "details": "x"}, "Too long: at most 32 characters (now 33)."),
    ],
)
def test_bad_answers_are_explained(
    client: FlaskClient, posters: Posters, fields: dict[str, str], message: str
) -> None:
    status, html = post_tip(client, f"/T/{posters.train}", **fields)
    assert status == 400
    assert message in text_of(html)
    for value in fields.values():
        assert value in html


def test_a_bad_or_expired_token_keeps_the_text_and_gives_a_fresh_one(
    client: FlaskClient, posters: Posters, session: Session
) -> None:
    path = f"/T/{posters.station}"
    status, html = post_tip(client, path, token="forged", details="Still here")
    assert status == 400
    assert "This form was open for a long time." in text_of(html)
    assert "Still here</textarea>" in html
    status, html = post_tip(client, path, token=form_token(html), details="Still here")
    assert status == 200
    assert len(tips(session)) == 1


def test_the_honeypot_is_thanked_and_nothing_is_stored(
    client: FlaskClient, posters: Posters, session: Session
) -> None:
    status, html = post_tip(client, f"/T/{posters.station}", details="buy", website="http://x")
    assert status == 200
    assert receipt_in(html)
    assert tips(session) == []


def test_traveler_pages_set_no_cookie(client: FlaskClient, posters: Posters) -> None:
    path = f"/T/{posters.station}"
    responses = [client.get(path), client.get("/"), client.get("/help"), client.get("/report")]
    responses.append(client.post(path, data={"token": "bad", "details": "x"}))
    token = form_token(client.get(path).get_data(as_text=True))
    responses.append(client.post(path, data={"token": token, "details": "x"}))
    for response in responses:
        assert "Set-Cookie" not in response.headers
    assert client.get_cookie("session") is None
    assert not list(client._cookies)


# --- limits and counts ---------------------------------------------------------------------


def test_too_many_tips_from_one_client_get_a_friendly_429(
    make_app: Callable[..., Flask], posters: Posters
) -> None:
    client = make_app(TIP_LIMIT_PER_CLIENT="2/600").test_client()
    path = f"/T/{posters.station}"
    assert post_tip(client, path, details="one")[0] == 200
    assert post_tip(client, path, details="two")[0] == 200
    status, html = post_tip(client, path, details="three, kept", contact="me")
    assert status == 429
    text = text_of(html)
    assert "Many reports were just sent from here. Your text is still here" in text
    assert "three, kept</textarea>" in html and 'value="me"' in html
    assert "Call 1-888-373-7888" in text and "Text 233733" in text
    # Another client is not held back by this one.
    other = client.post(
        path,
        data={"token": form_token(html), "details": "four"},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other.status_code == 200


def test_a_poster_over_its_threshold_still_takes_tips_flagged_as_a_burst(
    make_app: Callable[..., Flask], posters: Posters, session: Session
) -> None:
    client = make_app(TIP_LIMIT_PER_PLACEMENT="1/600", TIP_LIMIT_PER_CLIENT=0).test_client()
    assert post_tip(client, f"/T/{posters.station}", details="one")[0] == 200
    status, html = post_tip(client, f"/T/{posters.station}", details="two")
    assert status == 200 and receipt_in(html)
    assert post_tip(client, f"/T/{posters.train}", details="three")[0] == 200
    stored = {tip.details: tip.in_burst for tip in tips(session)}
    assert stored == {"one": False, "two": True, "three": False}


def test_limits_can_be_switched_off(make_app: Callable[..., Flask], posters: Posters) -> None:
    client = make_app(TIP_LIMIT_PER_CLIENT="0", TIP_LIMIT_PER_PLACEMENT=0).test_client()
    for n in range(12):
        assert post_tip(client, f"/T/{posters.station}", details=f"tip {n}")[0] == 200


def scans(session: Session) -> dict[str, int]:
    session.commit()
    rows = session.execute(
        select(Placement.code, ScanCount.day, ScanCount.count).join(
            Placement, Placement.id == ScanCount.placement_id
        )
    )
    today = date.today()
    return {code: count for code, day, count in rows if abs((day - today).days) <= 1}


def test_scans_are_counted_per_poster_and_day_in_batches(
    make_app: Callable[..., Flask], posters: Posters, session: Session
) -> None:
    app = make_app(SCAN_FLUSH_SECONDS=3600)
    client = app.test_client()
    for _ in range(3):
        client.get(f"/T/{posters.station}")
    client.get(f"/T/{posters.train}")
    client.get("/T/K7Q2M9XQ")  # unknown codes count nowhere
    client.post(f"/T/{posters.station}", data={"token": "x"})  # sending is not a scan
    assert scans(session) == {}  # buffered: no write per page view
    app.extensions["tipline.intake.scans"].flush()
    assert scans(session) == {posters.station: 3, posters.train: 1}
    client.get(f"/T/{posters.station}")
    app.extensions["tipline.intake.scans"].flush()
    assert scans(session) == {posters.station: 4, posters.train: 1}


def test_scans_land_from_the_request_path_when_due(
    make_app: Callable[..., Flask], posters: Posters, session: Session
) -> None:
    client = make_app(SCAN_FLUSH_SECONDS=0).test_client()
    for path in (f"/T/{posters.station}", f"/t/{posters.station.lower()}"):
        # A WSGI server closes each response once sent; the count is written then.
        client.get(path).close()
    assert scans(session) == {posters.station: 2}


def test_buffered_scans_are_written_at_exit(
    make_app: Callable[..., Flask], posters: Posters, session: Session
) -> None:
    import weakref

    from tipline.intake.scans import _flush_at_exit

    app = make_app(SCAN_FLUSH_SECONDS=3600)
    app.test_client().get(f"/T/{posters.train}")
    _flush_at_exit(weakref.ref(app.extensions["tipline.intake.scans"]))
    assert scans(session) == {posters.train: 1}


def test_tip_count_matches_posts_in_the_database(
    client: FlaskClient, posters: Posters, session: Session
) -> None:
    for n in range(3):
        post_tip(client, f"/T/{posters.station}", details=f"tip {n}")
    session.commit()
    assert session.scalar(select(func.count()).select_from(Tip)) == 3


def test_a_poster_change_shows_after_the_cache_time_and_tips_record_what_was_shown(
    make_app: Callable[..., Flask], posters: Posters, session: Session
) -> None:
    client = make_app(POSTER_CACHE_SECONDS=3600).test_client()
    path = f"/T/{posters.station}"
    html = client.get(path).get_data(as_text=True)
    session.query(Placement).filter_by(code=posters.station).update({"spot": "Gate 9 bench"})
    session.commit()
    assert "Women's restroom" in text_of(client.get(path).get_data(as_text=True))  # cached
    assert post_tip(client, path, token=form_token(html), details="x")[0] == 200
    # The tip says where the page told the traveler they were.
    assert tips(session)[0].spot == "Women's restroom, concourse A"
    fresh = make_app(POSTER_CACHE_SECONDS=0).test_client()
    assert "Gate 9 bench" in text_of(fresh.get(path).get_data(as_text=True))
    assert post_tip(fresh, path, details="y")[0] == 200
    assert tips(session)[1].spot == "Gate 9 bench"


def test_a_database_failure_keeps_the_text_and_logs_no_content(
    client: FlaskClient,
    posters: Posters,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy.exc import OperationalError

    import tipline.intake.views as views

    def outage(*_args: object, **_kwargs: object) -> None:
        # An injected outage: the shared test database cannot be taken down for one test.
        raise OperationalError(
            "INSERT INTO tip ... secret words", {"details": "secret words"}, None
        )

    monkeypatch.setattr(views, "submit_tip", outage)
    status, html = post_tip(client, f"/T/{posters.station}", details="secret words")
    assert status == 503
    assert "We could not save your report just now. Your text is still here" in text_of(html)
    assert "secret words</textarea>" in html and "Call 1-888-373-7888" in text_of(html)
    assert "secret words" not in caplog.text
    assert "OperationalError" in caplog.text
    assert tips(session) == []
