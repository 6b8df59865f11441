"""The poster desk at /staff/posters: what an admin sees and does, and who is turned away."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import csrf_token
from tests.posters.conftest import (
    LONG_NAME,
    PAGE_SIZES,
    SIZES,
    Network,
    decode,
    page_boxes,
    page_texts,
    qr_url,
    rasterize,
    short_url,
)
from tipline.accounts.models import AuditEvent, Role
from tipline.config import update_settings
from tipline.locations.codes import display
from tipline.locations.models import Placement, ScanCount

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture
def fixed_clock(app: Flask) -> datetime:
    """The app's clock stopped at NOW."""
    app.config["CLOCK"] = lambda: NOW
    return NOW


def signed_in(
    app: Flask, session: Session, role: Role, email: str, jurisdictions: tuple[str, ...] = ("NY",)
) -> FlaskClient:
    """A fresh browser signed in as a new user with `role`."""
    user, secret = factories.staff_user(
        session, email=email, role=role, jurisdictions=jurisdictions
    )
    browser = app.test_client()
    factories.sign_in(browser, user.email, factories.STAFF_PASSWORD, secret)
    return browser


@pytest.fixture
def admin(app: Flask, session: Session, fixed_clock: datetime) -> FlaskClient:
    """A browser signed in as a national admin (who manages every poster)."""
    return signed_in(app, session, Role.ADMIN, "admin@example.gov", ("national",))


def audit(session: Session, action: str) -> list[AuditEvent]:
    """The audit records of `action`, oldest first, read fresh from the database."""
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def text_of(html: str) -> str:
    """A page's visible words, tags removed, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def groups(html: str) -> list[str]:
    """The station and train headings of the desk, in order."""
    return [text_of(h) for h in re.findall(r'<h2 id="group-[^"]+">(.*?)</h2>', html)]


# --- seeing ---------------------------------------------------------------------------------


def test_an_admin_sees_placements_by_station_then_train(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    session.add(ScanCount(placement_id=network.nyp[0].id, day=TODAY, count=4))
    session.add(ScanCount(placement_id=network.nyp[0].id, day=TODAY - timedelta(days=6), count=3))
    session.add(ScanCount(placement_id=network.nyp[0].id, day=TODAY - timedelta(days=7), count=50))
    session.commit()

    page = admin.get("/staff/posters")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert groups(html) == [
        "Montréal Gare Centrale — Salle des Pas Perdus, Québec (MTRL)",
        "New York Penn Station (NYP)",
        "Ny Moynihan Train Hall At Penn Station (NYM)",
        "Train 66 · Northeast Regional",
    ]
    text = text_of(html)
    assert "6 active placements, 1 retired." in text
    assert "Old poster by gate 5" not in text  # retired: listed only when asked for
    nyp = network.nyp[0]
    row = text_of(re.search(rf"<tr>\s*<td><a[^>]*>{display(nyp.code)}</a>.*?</tr>", html, re.S)[0])
    assert row.startswith(f"{display(nyp.code)} Men's restroom, concourse B English active 7 new ")
    assert "No poster is silent or spiking." in text


def test_retired_placements_show_when_asked_for(admin: FlaskClient, network: Network) -> None:
    text = text_of(admin.get("/staff/posters?show=retired").get_data(as_text=True))
    assert "Old poster by gate 5" in text
    assert "Car 3 vestibule" not in text
    everything = text_of(admin.get("/staff/posters?show=all").get_data(as_text=True))
    assert "Old poster by gate 5" in everything and "Car 3 vestibule" in everything


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("nyp", ["New York Penn Station (NYP)"]),
        ("penn", ["New York Penn Station (NYP)", "Ny Moynihan Train Hall At Penn Station (NYM)"]),
        ("66", ["Train 66 · Northeast Regional"]),
        ("Train 66", ["Train 66 · Northeast Regional"]),
        ("6", []),  # a train number matches whole, not in part
        ("montréal", ["Montréal Gare Centrale — Salle des Pas Perdus, Québec (MTRL)"]),
    ],
)
def test_search_by_station_or_train(
    admin: FlaskClient, network: Network, q: str, expected: list[str]
) -> None:
    html = admin.get("/staff/posters", query_string={"q": q}).get_data(as_text=True)
    assert groups(html) == expected
    if not expected:
        assert f"No station or train matches “{q}”." in text_of(html)


def test_search_by_poster_code_as_a_person_types_it(admin: FlaskClient, network: Network) -> None:
    code = network.train66[1].code
    typed = f"{code[:4]}-{code[4:]}".lower()
    html = admin.get("/staff/posters", query_string={"q": typed}).get_data(as_text=True)
    assert groups(html) == ["Train 66 · Northeast Regional"]


def test_pages_of_twenty_stations(admin: FlaskClient, session: Session) -> None:
    for i in range(23):
        st = factories.station(session, code=f"S{i:02d}", name=f"Station {i:02d}")
        factories.placement(session, station=st)
    session.commit()

    first = admin.get("/staff/posters").get_data(as_text=True)
    second = admin.get("/staff/posters?page=2").get_data(as_text=True)

    assert len(groups(first)) == 20 and groups(first)[0] == "Station 00 (S00)"
    assert groups(second) == ["Station 20 (S20)", "Station 21 (S21)", "Station 22 (S22)"]
    assert "page 2 of 2" in text_of(second)
    assert 'href="/staff/posters?page=2"' in first
    assert groups(admin.get("/staff/posters?page=99").get_data(as_text=True)) == groups(second)


def test_the_placement_page_charts_scans_per_day(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    pl = network.nyp[1]
    for back, count in {0: 2, 1: 5, 13: 7, 40: 9}.items():
        session.add(ScanCount(placement_id=pl.id, day=TODAY - timedelta(days=back), count=count))
    session.commit()

    html = admin.get(f"/staff/posters/{pl.code.lower()}").get_data(as_text=True)

    text = text_of(html)
    assert f"Poster {display(pl.code)}" in text
    assert "New York Penn Station (NYP)" in text and "Women's restroom, concourse A" in text
    assert qr_url(pl.code) in text
    bars = re.findall(r"<rect [^>]*><title>(\d{4}-\d\d-\d\d): (\d+) scans?</title>", html)
    assert len(bars) == 30
    assert bars[-1] == (TODAY.isoformat(), "2")
    assert bars[-2] == ((TODAY - timedelta(days=1)).isoformat(), "5")
    assert sum(int(n) for _, n in bars) == 14  # the 9 from 40 days ago is off the chart
    long = admin.get(f"/staff/posters/{pl.code}?days=90").get_data(as_text=True)
    assert len(re.findall(r"<rect ", long)) == 90
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_an_unknown_or_mistyped_code_is_not_found(admin: FlaskClient, network: Network) -> None:
    code = network.nyp[0].code
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert admin.get(f"/staff/posters/{wrong}").status_code == 404
    assert admin.get("/staff/posters/NOPE").status_code == 404


# --- health on the desk ---------------------------------------------------------------------


def test_silent_and_spiking_posters_need_attention(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    silent, spiking = network.nyp[0], network.train66[0]
    for pl in (silent, spiking):
        pl.created_at = datetime(2026, 1, 1, tzinfo=UTC)
    for back in range(2, 16):
        session.add(ScanCount(placement_id=silent.id, day=TODAY - timedelta(days=back), count=6))
        session.add(ScanCount(placement_id=spiking.id, day=TODAY - timedelta(days=back), count=1))
    session.add(ScanCount(placement_id=spiking.id, day=TODAY, count=40))
    session.commit()

    html = admin.get("/staff/posters").get_data(as_text=True)

    box = text_of(html.split('id="attention-title">', 1)[1].split("</section>", 1)[0])
    assert box.startswith("Needs attention (2)")
    assert (
        f"{display(silent.code)} New York Penn Station (NYP) Men's restroom, concourse B silent "
        "no scans recently, after 6.0 a day before" in box
    )
    assert (
        f"{display(spiking.code)} Train 66 Café car, by the counter spiking 40 scans in a day, "
        "against 1.0 a day before (flagged above 10)" in box
    )
    page = text_of(admin.get(f"/staff/posters/{spiking.code}").get_data(as_text=True))
    assert f"Poster {display(spiking.code)} spiking" in page
    assert "40 scans in a day" in page


def test_the_thresholds_are_settings(
    admin: FlaskClient, app: Flask, network: Network, session: Session
) -> None:
    pl = network.nyp[0]
    pl.created_at = datetime(2026, 1, 1, tzinfo=UTC)
    session.add(ScanCount(placement_id=pl.id, day=TODAY, count=15))
    session.commit()
    assert "Needs attention (1)" in text_of(admin.get("/staff/posters").get_data(as_text=True))
    update_settings(app, SCAN_SPIKE_MIN=20)
    assert "No poster is silent or spiking." in admin.get("/staff/posters").get_data(as_text=True)


# --- adding and retiring --------------------------------------------------------------------


def test_an_admin_adds_a_placement_at_a_station(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    form = admin.get("/staff/posters/new?kind=station&place=test:NYP")
    assert 'value="test:NYP"' in form.get_data(as_text=True)

    response = admin.post(
        "/staff/posters/new",
        data={
            "csrf_token": csrf_token(form.get_data(as_text=True)),
            "kind": "station",
            "place": "nyp",
            "spot": "  Family restroom,   mezzanine ",
            "lang": "es",
        },
    )

    assert response.status_code == 302
    session.expire_all()
    made = session.scalars(select(Placement).where(Placement.spot == "Family restroom, mezzanine"))
    (pl,) = made.all()
    assert pl.station is not None and pl.station.code == "NYP"
    assert (pl.lang, pl.active, pl.created_at) == ("es", True, NOW)
    assert response.headers["Location"] == f"/staff/posters/{pl.code}"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Added poster {display(pl.code)}: New York Penn Station (NYP) · Family" in page
    (event,) = audit(session, "placement.add")
    assert (event.actor_email, event.target, event.outcome) == (
        "admin@example.gov",
        f"placement:{pl.code}",
        "ok",
    )
    assert event.detail == {
        "where": "New York Penn Station (NYP)",
        "spot": "Family restroom, mezzanine",
        "lang": "es",
    }


def test_an_admin_adds_a_placement_on_a_train(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    token = csrf_token(admin.get("/staff/posters/new").get_data(as_text=True))
    response = admin.post(
        "/staff/posters/new",
        data={"csrf_token": token, "kind": "train", "place": "66", "spot": "Car 5", "lang": "en"},
    )
    assert response.status_code == 302
    session.expire_all()
    pl = session.scalars(select(Placement).where(Placement.spot == "Car 5")).one()
    assert pl.train is not None and pl.train.number == "66"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "station", "place": "ZZZ"}, "no station &#39;ZZZ&#39;"),
        ({"kind": "train", "place": "NYP"}, "no train &#39;NYP&#39;"),
        ({"kind": "station", "place": ""}, "Type a station code or a train number."),
        ({"kind": "station", "place": "NYP", "spot": "   "}, "Say where the poster hangs."),
        ({"kind": "station", "place": "NYP", "spot": "x" * 201}, "Field cannot be longer"),
        ({"kind": "bus", "place": "NYP"}, "Not a valid choice"),
        ({"kind": "station", "place": "NYP", "lang": "de"}, "Not a valid choice"),
    ],
)
def test_a_wrong_placement_is_explained_and_not_added(
    admin: FlaskClient, network: Network, session: Session, fields: dict[str, str], message: str
) -> None:
    before = session.query(Placement).count()
    token = csrf_token(admin.get("/staff/posters/new").get_data(as_text=True))
    data = {"csrf_token": token, "spot": "Platform 3", "lang": "en", **fields}

    response = admin.post("/staff/posters/new", data=data)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The placement was not added" in html
    assert message in html
    assert 'aria-invalid="true"' in html or "kind-errors" in html
    session.expire_all()
    assert session.query(Placement).count() == before
    assert audit(session, "placement.add") == []


def test_an_ambiguous_station_code_asks_for_the_feed(admin: FlaskClient, session: Session) -> None:
    factories.station(session, feed="amtrak")
    factories.station(session, feed="via")
    session.commit()
    token = csrf_token(admin.get("/staff/posters/new").get_data(as_text=True))
    data = {"csrf_token": token, "kind": "station", "place": "NYP", "spot": "Hall", "lang": "en"}

    html = admin.post("/staff/posters/new", data=data).get_data(as_text=True)
    assert "ambiguous" in html and "amtrak:NYP" in html

    data["place"] = "via:NYP"
    assert admin.post("/staff/posters/new", data=data).status_code == 302


def test_retiring_asks_first_then_retires_once(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    pl = network.nyp[0]
    confirm = admin.get(f"/staff/posters/{pl.code}/retire")
    assert confirm.status_code == 200
    html = confirm.get_data(as_text=True)
    assert f'Retire poster <span class="mono">{display(pl.code)}</span>?' in html
    session.expire_all()
    assert session.get(Placement, pl.id).active  # type: ignore[union-attr]

    response = admin.post(f"/staff/posters/{pl.code}/retire", data={"csrf_token": csrf_token(html)})

    assert response.status_code == 302
    session.expire_all()
    retired = session.get(Placement, pl.id)
    assert retired is not None and not retired.active and retired.retired_at == NOW
    (event,) = audit(session, "placement.retire")
    assert (event.actor_email, event.target) == ("admin@example.gov", f"placement:{pl.code}")
    page = admin.get(f"/staff/posters/{pl.code}").get_data(as_text=True)
    assert "retired on 2026-11-28" in text_of(page)
    assert "Download PDF" not in page

    again = admin.post(f"/staff/posters/{pl.code}/retire", data={"csrf_token": csrf_token(html)})
    assert again.status_code == 302
    assert "was already retired" in admin.get(again.headers["Location"]).get_data(as_text=True)
    assert len(audit(session, "placement.retire")) == 1


def test_forms_without_a_valid_csrf_token_are_refused(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    pl = network.nyp[0]
    fields = {"kind": "station", "place": "NYP", "spot": "Forged", "lang": "en"}
    for token in (None, "forged-token"):
        data = fields if token is None else {**fields, "csrf_token": token}
        assert admin.post("/staff/posters/new", data=data).status_code == 400
        retire = {} if token is None else {"csrf_token": token}
        assert admin.post(f"/staff/posters/{pl.code}/retire", data=retire).status_code == 400
    session.expire_all()
    assert session.scalars(select(Placement).where(Placement.spot == "Forged")).all() == []
    assert session.get(Placement, pl.id).active  # type: ignore[union-attr]
    assert audit(session, "placement.add") == audit(session, "placement.retire") == []


# --- printing -------------------------------------------------------------------------------


def pdf_of(response: object) -> bytes:
    """The body of a PDF response, checked to be one."""
    assert response.status_code == 200, response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.mimetype == "application/pdf"  # type: ignore[attr-defined]
    data: bytes = response.get_data()  # type: ignore[attr-defined]
    assert data.startswith(b"%PDF-")
    return data


@pytest.mark.parametrize("size", SIZES)
def test_one_placement_prints_one_page_in_each_size(
    admin: FlaskClient, network: Network, session: Session, size: str
) -> None:
    pl = network.nyp[1]
    response = admin.get(
        "/staff/posters/download", query_string={"placement": pl.code, "size": size}
    )

    pdf = pdf_of(response)
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="tipline-placement-{pl.code}-{size}.pdf"'
    )
    (box,) = page_boxes(pdf)
    assert box["MediaBox"][2:] == pytest.approx(PAGE_SIZES[size], abs=0.01)
    (text,) = page_texts(pdf)
    assert short_url(pl.code) in text
    (event,) = audit(session, "posters.download")
    assert (event.actor_email, event.target) == ("admin@example.gov", f"placement:{pl.code}")
    assert event.detail == {
        "size": size,
        "bleed": False,
        "posters": 1,
        "format": "pdf",
        "inline": False,
    }


def test_a_downloaded_poster_scans_to_its_own_code(admin: FlaskClient, network: Network) -> None:
    pl = network.train66[1]
    pdf = pdf_of(admin.get(f"/staff/posters/download?placement={pl.code}&size=sticker"))
    (page,) = rasterize(pdf, dpi=150)
    assert [code.text for code in decode(page)] == [qr_url(pl.code)]


def test_a_station_and_a_train_print_their_active_posters(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    station = pdf_of(admin.get("/staff/posters/download?station=test:NYP&size=a4"))
    assert len(page_boxes(station)) == 2  # the retired one is not reprinted
    for pl, text in zip(network.nyp, page_texts(station), strict=True):
        assert short_url(pl.code) in text

    train = pdf_of(admin.get("/staff/posters/download?train=66&size=tabloid&bleed=y"))
    boxes = page_boxes(train)
    assert len(boxes) == 2
    assert boxes[0]["MediaBox"][2] > PAGE_SIZES["tabloid"][0]  # bleed and marks around the trim
    assert [e.target for e in audit(session, "posters.download")] == [
        "station:test:NYP",
        "train:66",
    ]


def test_a_station_as_a_zip_of_one_pdf_per_poster(admin: FlaskClient, network: Network) -> None:
    response = admin.get("/staff/posters/download?station=NYP&zip=y")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        assert sorted(archive.namelist()) == sorted(f"{pl.code}.pdf" for pl in network.nyp)


def test_preview_is_the_same_pdf_shown_inline(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    pl = network.montreal
    response = admin.get(f"/staff/posters/preview?placement={pl.code}&size=letter")
    pdf = pdf_of(response)
    assert response.headers["Content-Disposition"].startswith("inline; ")
    assert response.headers["Cache-Control"] == "no-store"
    assert len(page_boxes(pdf)) == 1
    (event,) = audit(session, "posters.download")
    assert event.detail["inline"] is True


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("placement={retired}", 404, "is retired; print a new placement instead"),
        ("station=ZZZ", 404, "no station &#39;ZZZ&#39;"),
        ("station=MTRL&train=66", 400, None),
        ("", 400, None),
        ("placement={active}&size=poster", 400, None),
    ],
)
def test_what_cannot_be_printed_is_refused_plainly(
    admin: FlaskClient,
    network: Network,
    session: Session,
    query: str,
    status: int,
    message: str | None,
) -> None:
    retired = session.scalars(select(Placement).where(Placement.active.is_(False))).one()
    url = "/staff/posters/download?" + query.format(
        retired=retired.code, active=network.nyp[0].code
    )
    response = admin.get(url)
    assert response.status_code == status
    if message:
        assert message in response.get_data(as_text=True)
    assert audit(session, "posters.download") == []


# --- who may --------------------------------------------------------------------------------


def test_a_state_admin_manages_the_posters_of_their_own_jurisdictions_only(
    app: Flask, session: Session, network: Network, fixed_clock: datetime
) -> None:
    ny = signed_in(app, session, Role.ADMIN, "ny.admin@example.gov", ("NY",))
    page = ny.get("/staff/posters?show=all").get_data(as_text=True)
    # New York's stations, and train 66 (it calls at New York); never Montréal.
    assert groups(page) == [
        "New York Penn Station (NYP)",
        f"{LONG_NAME} (NYM)",
        "Train 66 · Northeast Regional",
    ]
    assert "Montréal" not in page and "MTRL" not in page
    assert "5 active" in text_of(page)  # the network's totals are New York's only
    montreal = network.montreal.code
    token = csrf_token(
        ny.get(f"/staff/posters/{network.nyp[0].code}/retire").get_data(as_text=True)
    )
    refused = [
        ny.get(f"/staff/posters/{montreal}"),
        ny.get(f"/staff/posters/{montreal}/retire"),
        ny.post(f"/staff/posters/{montreal}/retire", data={"csrf_token": token}),
        ny.get(f"/staff/posters/download?placement={montreal}"),
        ny.get("/staff/posters/download?station=MTRL"),
        ny.get(f"/staff/posters/preview?placement={montreal}&size=sticker"),
    ]
    # The same answer as for a code that does not exist: ids reveal nothing.
    assert [r.status_code for r in refused] == [404] * 6
    added = ny.post(
        "/staff/posters/new",
        data={
            "kind": "station",
            "place": "MTRL",
            "spot": "Hall",
            "lang": "fr",
            "csrf_token": token,
        },
    )
    assert added.status_code == 422
    assert "is not in your jurisdictions" in text_of(added.get_data(as_text=True))
    session.expire_all()
    assert session.get(Placement, network.montreal.id).active  # type: ignore[union-attr]
    assert audit(session, "placement.add") == audit(session, "placement.retire") == []
    denied = audit(session, "access.denied")
    assert len(denied) == 6 and {e.actor_email for e in denied} == {"ny.admin@example.gov"}
    assert {e.detail["reason"] for e in denied} == {"outside the user's jurisdictions"}
    # Quebec's admin sees Montréal and nothing of New York.
    qc = signed_in(app, session, Role.ADMIN, "qc.admin@example.gov", ("QC",))
    assert groups(qc.get("/staff/posters?show=all").get_data(as_text=True)) == [
        "Montréal Gare Centrale — Salle des Pas Perdus, Québec (MTRL)"
    ]
    assert qc.get(f"/staff/posters/{network.nyp[0].code}").status_code == 404
    assert qc.get("/staff/posters/download?train=66").status_code == 404


DESK_REQUESTS = [
    ("GET", "/staff/posters"),
    ("GET", "/staff/posters/new"),
    ("POST", "/staff/posters/new"),
    ("GET", "/staff/posters/{code}"),
    ("GET", "/staff/posters/{code}/retire"),
    ("POST", "/staff/posters/{code}/retire"),
    ("GET", "/staff/posters/download?placement={code}"),
    ("GET", "/staff/posters/preview?placement={code}"),
]


@pytest.mark.parametrize("role", [Role.TRIAGER, Role.VIEWER])
def test_triagers_and_viewers_are_refused_and_the_refusal_is_audited(
    app: Flask, session: Session, network: Network, fixed_clock: datetime, role: Role
) -> None:
    browser = signed_in(app, session, role, f"{role}@example.gov")
    # A valid token from a page this user may open, so the refusal is the role's, not CSRF's.
    token = csrf_token(browser.get("/staff/account").get_data(as_text=True))
    code = network.nyp[0].code

    for method, path in DESK_REQUESTS:
        url = path.format(code=code)
        data = {"csrf_token": token, "kind": "station", "place": "NYP", "spot": "X", "lang": "en"}
        response = browser.open(url, method=method, data=data if method == "POST" else None)
        assert response.status_code == 403, (method, url)
        assert "Not allowed" in response.get_data(as_text=True)

    denied = audit(session, "access.denied")
    assert [(e.actor_email, e.outcome, e.detail["method"], e.detail["path"]) for e in denied] == [
        (f"{role}@example.gov", "denied", method, path.format(code=code).split("?")[0])
        for method, path in DESK_REQUESTS
    ]
    session.expire_all()
    assert session.get(Placement, network.nyp[0].id).active  # type: ignore[union-attr]
    assert audit(session, "posters.download") == audit(session, "placement.add") == []


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, network: Network) -> None:
    code = network.nyp[0].code
    token = csrf_token(client.get("/staff/signin").get_data(as_text=True))
    for method, path in DESK_REQUESTS:
        data = {"csrf_token": token} if method == "POST" else None
        response = client.open(path.format(code=code), method=method, data=data)
        assert response.status_code == 302, (method, path)
        assert response.headers["Location"].startswith("/staff/signin"), (method, path)
    response = client.get("/staff/posters")
    assert response.headers["Location"] == "/staff/signin?next=/staff/posters"


def test_the_staff_nav_links_admins_to_the_desk(
    admin: FlaskClient, app: Flask, session: Session
) -> None:
    assert 'href="/staff/posters"' in admin.get("/staff/account").get_data(as_text=True)
    viewer = signed_in(app, session, Role.VIEWER, "viewer@example.gov")
    assert 'href="/staff/posters"' not in viewer.get("/staff/account").get_data(as_text=True)


def test_days_in_the_chart_are_fixed_choices(admin: FlaskClient, network: Network) -> None:
    html = admin.get(f"/staff/posters/{network.nyp[0].code}?days=100000").get_data(as_text=True)
    assert len(re.findall(r"<rect ", html)) == 30
    assert date(2026, 10, 30).isoformat() in html  # the first of 30 days ending on the 28th


def test_a_car_that_turns_around_is_added_with_both_numbers(
    admin: FlaskClient, network: Network, session: Session
) -> None:
    factories.train(session, number="67", stops=[])
    session.commit()
    token = csrf_token(admin.get("/staff/posters/new").get_data(as_text=True))
    response = admin.post(
        "/staff/posters/new",
        data={
            "csrf_token": token,
            "kind": "train",
            "place": "66/67",
            "spot": "Car 7",
            "lang": "en",
        },
    )
    assert response.status_code == 302
    session.expire_all()
    pl = session.scalars(select(Placement).where(Placement.spot == "Car 7")).one()
    assert [t.number for t in pl.trains] == ["66", "67"]
    page = admin.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "Northeast Regional, 66/67" in page
