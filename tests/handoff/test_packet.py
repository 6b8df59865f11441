"""The hand-off packet: what may leave does, what may not never does (read back by pdftotext)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import csrf_token
from tests.triage.conftest import Staff, audit_events, post_form
from tipline.handoff.render import Packet, render_packet
from tipline.handoff.shareable import WITHHELD, shareable
from tipline.triage import services
from tipline.triage.models import TipEvent

WORDS = "A man keeps her passport in his jacket"
NOTE = "Internal: Officer Quimby thinks this is the Tuesday group"


def pdf_text(pdf: bytes) -> str:
    """The packet's text as a reader would copy it (poppler's pdftotext)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not found: install poppler-utils")
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return " ".join(done.stdout.decode().split())


def _train_tip(session: Session, *, consent: bool):  # type: ignore[no-untyped-def]
    factories.station(session, **factories.NWK, tz="America/New_York")
    return factories.tip(
        session,
        location_kind="train",
        station_code=None,
        station_name=None,
        state="NJ",
        jurisdictions=("NJ", "NY"),
        train_number="66",
        route_name="Northeast Regional",
        train_moving=True,
        next_stop_code="NWK",
        next_stop_name="Newark Penn Station",
        next_stop_time=datetime(2026, 6, 15, 12, 20, tzinfo=UTC),
        placement_code="K7Q2M9XD",
        spot="Car 3 vestibule",
        indicators=["holds_documents", "fearful"],
        details=WORDS,
        consent_forward=consent,
        priority=1,
        happening_now=True,
    )


def test_a_packet_with_consent_carries_the_words_and_never_notes_or_names(
    login: Callable[[str], FlaskClient], staff: Callable[[str], Staff], session: Session
) -> None:
    tip = _train_tip(session, consent=True)
    person = staff("nynj_triager")
    services.add_note(session, tip=tip, actor=person.user, now=tip.received_at, text=NOTE)
    session.commit()
    client = login("nynj_triager")
    page = f"/staff/tips/{tip.id}"
    token_page = client.get(page).get_data(as_text=True)
    assert f'action="/staff/tips/{tip.id}/packet"' in token_page
    response = client.post(
        f"{page}/packet",
        data={"csrf_token": csrf_token(token_page), "partner": "NJ Transit Police"},
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.get_data())
    for shown in (
        f"TIP-{tip.id:06d}",
        "NJ Transit Police",
        "Train 66 Northeast Regional, moving",
        "Newark Penn Station at 2026-06-15 08:20 EDT",
        "2026-06-15 08:00 EDT (12:00 UTC)",
        "K7Q2M9XD — Car 3 vestibule",
        "Someone else holds their ID, ticket, money or phone",
        WORDS,
    ):
        assert shown in text, shown
    for never in (NOTE, "Quimby", person.email, "nynj"):
        assert never not in text, never
    session.expire_all()
    kinds = session.scalars(select(TipEvent.kind).where(TipEvent.tip_id == tip.id)).all()
    assert kinds[-1] == "handoff"
    [event] = audit_events(session, "tip.handoff")
    assert event.detail == {"partner": "NJ Transit Police", "words": True}
    assert "NJ Transit Police" in client.get(page).get_data(as_text=True)  # on the timeline


def test_without_consent_the_words_are_redacted(session: Session) -> None:
    tip = _train_tip(session, consent=False)
    packet = Packet(shareable(tip), "Hotline", tip.received_at, "America/New_York")
    text = pdf_text(render_packet(packet))
    assert WORDS not in text
    assert " ".join(WITHHELD.split()) in text


def test_viewers_and_other_jurisdictions_get_no_packet(
    login: Callable[[str], FlaskClient], session: Session
) -> None:
    tip = factories.tip(session, jurisdictions=("NJ",), details=WORDS)
    session.commit()
    for name, status in (("ny_triager", 404), ("ny_viewer", 403)):
        client = login(name)
        code, body = post_form(
            client, "/staff/account", f"/staff/tips/{tip.id}/packet", {"partner": "NYPD"}
        )
        assert code == status and WORDS not in body, name
    assert audit_events(session, "tip.handoff") == []
