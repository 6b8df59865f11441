"""A tip's page and its actions through the browser's eyes: what staff see, what is refused."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import csrf_token
from tests.triage.conftest import NOW, Staff, audit_events, post_form, reread
from tipline.intake.models import Tip
from tipline.triage.models import TipEvent


def act(client: FlaskClient, tip_id: int, action: str, **fields: object) -> tuple[int, str]:
    """Submit one action form from the tip's page (fields without the action's prefix)."""
    data = {f"{action}-{name}": value for name, value in fields.items()}
    return post_form(client, f"/staff/tips/{tip_id}", f"/staff/tips/{tip_id}/{action}", data)


def fresh(session: Session, tip: Tip) -> Tip:
    found = reread(session).get(Tip, tip.id)
    assert found is not None
    return found


def test_the_tip_page_shows_everything_the_traveler_sent_and_the_train_snapshot(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    factories.station(session, **factories.NWK)
    factories.station(session, code="MET", name="Metropark", state="NJ")
    tip = factories.tip(
        session,
        jurisdictions=["NY", "NJ"],
        priority=1,
        location_kind="train",
        station_code=None,
        station_name=None,
        train_number="66",
        route_name="Northeast Regional",
        trip_id="66-daily",
        service_date=date(2026, 6, 15),
        placement_code="K7Q2M9XD",
        spot="Car 3 vestibule",
        last_stop_code="MET",
        last_stop_name="Metropark",
        last_stop_time=datetime(2026, 6, 15, 17, 40, tzinfo=UTC),
        next_stop_code="NWK",
        next_stop_name="Newark Penn Station",
        next_stop_time=datetime(2026, 6, 15, 18, 5, tzinfo=UTC),
        train_moving=True,
        indicators=["holds_documents", "fearful"],
        happening_now=True,
        car="3",
        direction="to New York",
        people_count=2,
        descriptions="Older man, girl about 14",
        details="He keeps her phone and ticket.",
        contact="call 555-0100",
        consent_forward=True,
    )
    session.commit()
    html = login("ny_triager").get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    for text in (
        "Tip #",
        "urgent",
        "Train 66 → next: Newark Penn Station 14:05",
        "66 · Northeast Regional",
        "2026-06-15",
        "Metropark (MET) at 13:40",
        "Newark Penn Station (NWK) at 14:05",
        "yes, when the tip was sent",
        "K7Q2M9XD",
        "Car 3 vestibule",
        "Someone else holds their ID, ticket, money or phone",
        "Older man, girl about 14",
        "He keeps her phone and ticket.",
        "call 555-0100",
        "yes, to the national hotline or police",
        "Jurisdictions: NJ, NY",
        "to New York",
    ):
        assert text in html, text


def test_related_tips_are_nearby_in_time_and_only_visible_ones(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    tip = factories.tip(session, placement_code="K7Q2M9XD")
    same_station = factories.tip(session, received_at=factories.TIP_TIME - timedelta(hours=1))
    same_train_nj = factories.tip(
        session,
        jurisdictions=["NJ"],
        station_code="NYP",
        received_at=factories.TIP_TIME + timedelta(minutes=30),
    )
    too_late = factories.tip(session, received_at=factories.TIP_TIME + timedelta(hours=3))
    elsewhere = factories.tip(session, station_code="ALB")
    session.commit()
    html = login("ny_triager").get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    related = html.split('id="related"')[1].split("</section>")[0]
    assert f"#{same_station.id}<" in related
    for hidden in (same_train_nj, too_late, elsewhere):
        assert f"#{hidden.id}<" not in related
    national = login("national_triager").get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    assert f"#{same_train_nj.id}<" in national.split('id="related"')[1].split("</section>")[0]


def test_each_view_is_audited_and_stops_the_alerts(
    session: Session, login: Callable[[str], FlaskClient], staff: Callable[[str], Staff]
) -> None:
    tip = factories.tip(session, priority=1)
    session.commit()
    client = login("ny_viewer")
    assert client.get(f"/staff/tips/{tip.id}").status_code == 200
    assert client.get(f"/staff/tips/{tip.id}").status_code == 200
    views = audit_events(session, "tip.view")
    assert [(v.target, v.actor_id) for v in views] == [
        (f"tip:{tip.id}", staff("ny_viewer").user.id)
    ] * 2
    assert fresh(session, tip).opened_at == NOW


def test_acknowledge_then_close_through_the_forms(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    tip = factories.tip(session, priority=1)
    session.commit()
    client = login("ny_triager")
    status, _ = act(client, tip.id, "acknowledge")
    assert status == 302
    page = client.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    assert "Acknowledged." in page and '<span class="badge">acknowledged</span>' in page
    status, _ = act(client, tip.id, "close", resolution="prank_spam", reason="a joke")
    assert status == 302
    page = client.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    assert "Tip closed." in page and "Prank or spam" in page
    assert f'action="/staff/tips/{tip.id}/reopen"' in page
    assert fresh(session, tip).status == "closed"
    assert [e.action for e in audit_events(session, "tip.closed")] == ["tip.closed"]


def test_every_action_form_works(
    session: Session, login: Callable[[str], FlaskClient], staff: Callable[[str], Staff]
) -> None:
    other = factories.tip(session)
    tip = factories.tip(session)
    colleague = staff("ny_admin").user
    session.commit()
    client = login("ny_triager")
    steps: list[tuple[str, dict[str, object], str]] = [
        ("acknowledge", {}, "acknowledged"),
        ("assign", {"assignee": colleague.id}, "acknowledged"),
        ("investigate", {"reason": "calling the station"}, "investigating"),
        ("priority", {"priority": 1, "reason": "a minor"}, "investigating"),
        ("note", {"text": "Police on the way."}, "investigating"),
        ("refer", {"to": "NYPD", "reference": "R-1"}, "referred"),
        ("close", {"resolution": "duplicate", "duplicate_of": other.id}, "closed"),
        ("reopen", {"reason": "not a duplicate after all"}, "investigating"),
    ]
    for action, fields, expected in steps:
        status, body = act(client, tip.id, action, **fields)
        assert status == 302, (action, body)
        assert fresh(session, tip).status == expected, action
    stored = fresh(session, tip)
    assert (stored.priority, stored.assignee_id, stored.referral_ref) == (1, colleague.id, "R-1")
    page = client.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    timeline = page.split('id="timeline"')[1]
    for text in (
        "to ny.admin@example.gov",
        "normal → urgent — a minor",
        "Police on the way.",
        "to NYPD (ref. R-1)",
        f"Duplicate of #{other.id}",
        "not a duplicate after all",
        "investigating → referred",
    ):
        assert text in timeline, text


def test_invalid_transitions_and_bad_input_are_explained(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    tip = factories.tip(session)
    session.commit()
    client = login("ny_triager")
    status, body = act(client, tip.id, "close", resolution="actioned")
    assert status == 409
    assert "This tip is new; acknowledge it before it can be closed." in body
    status, body = act(client, tip.id, "priority", priority=1, reason="")
    assert status == 400 and "Say why." in body
    status, body = act(client, tip.id, "note", text="x" * 4001)
    assert status == 400
    assert client.post(f"/staff/tips/{tip.id}/explode").status_code in (400, 404)
    assert fresh(session, tip).status == "new"
    assert session.scalar(select(TipEvent.id).where(TipEvent.tip_id == tip.id)) is None


def test_an_action_post_without_its_csrf_token_is_rejected(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    tip = factories.tip(session)
    session.commit()
    client = login("ny_triager")
    response = client.post(f"/staff/tips/{tip.id}/acknowledge", data={})
    assert response.status_code == 400
    response = client.post(
        f"/staff/tips/{tip.id}/acknowledge", data={"acknowledge-csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert fresh(session, tip).status == "new"


def test_viewers_read_but_every_action_is_refused_and_recorded(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    tip = factories.tip(session)
    session.commit()
    client = login("ny_viewer")
    page = client.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    assert "can read tips but not change them" in page
    assert "/acknowledge" not in page
    token = csrf_token(page)
    for action in (
        "acknowledge",
        "note",
        "close",
        "assign",
        "priority",
        "refer",
        "reopen",
        "investigate",
    ):
        response = client.post(
            f"/staff/tips/{tip.id}/{action}", data={"csrf_token": token, "note-text": "x"}
        )
        assert response.status_code == 403, action
    assert fresh(session, tip).status == "new"
    assert len(audit_events(session, "access.denied")) == 8


def _untokened(html: str) -> str:
    return re.sub(r'(name="[a-z-]*csrf_token"[^>]*value=")[^"]+"', r'\1"', html)


def test_a_new_york_triager_cannot_reach_a_new_jersey_tip_by_any_door(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    nj = factories.tip(
        session,
        jurisdictions=["NJ"],
        station_code="NWK",
        station_name="Newark Penn Station",
        details="NJ secret",
    )
    mine = factories.tip(session, status="acknowledged")
    session.commit()
    client = login("ny_triager")

    by_url = client.get(f"/staff/tips/{nj.id}")
    missing = client.get("/staff/tips/999999")
    assert by_url.status_code == missing.status_code == 404
    assert client.get("/staff/tips/99999999999999999999").status_code == 404
    # The same page, but for the form token, whose signature carries the second it was made.
    assert _untokened(by_url.get_data(as_text=True)) == _untokened(missing.get_data(as_text=True))
    assert "NJ secret" not in by_url.get_data(as_text=True)

    token = csrf_token(client.get("/staff/").get_data(as_text=True))
    response = client.post(
        f"/staff/tips/{nj.id}/acknowledge", data={"acknowledge-csrf_token": token}
    )
    assert response.status_code == 404

    status, body = act(client, mine.id, "close", resolution="duplicate", duplicate_of=nj.id)
    assert status == 400 and f"No tip #{nj.id} in your jurisdictions." in body
    status_missing, body_missing = act(
        client, mine.id, "close", resolution="duplicate", duplicate_of=999999
    )
    assert status_missing == 400 and "No tip #999999 in your jurisdictions." in body_missing

    for path in ("/staff/", "/staff/?station=NWK", "/staff/export.csv", "/staff/export.json"):
        assert "NJ secret" not in client.get(path).get_data(as_text=True), path
        assert f'/staff/tips/{nj.id}"' not in client.get(path).get_data(as_text=True), path

    assert fresh(session, nj).status == "new" and fresh(session, nj).opened_at is None
    assert fresh(session, mine).status == "acknowledged"
    denied = [
        (e.target, e.outcome, e.detail.get("reason") or e.detail.get("via"))
        for e in audit_events(session, "access.denied")
    ]
    assert denied == [
        (f"tip:{nj.id}", "denied", "outside the user's jurisdictions"),
        ("tip:999999", "denied", "no such tip"),
        ("tip:99999999999999999999", "denied", "no such tip"),
        (f"tip:{nj.id}", "denied", "outside the user's jurisdictions"),
        (f"tip:{nj.id}", "denied", "duplicate_of"),
        ("tip:999999", "denied", "duplicate_of"),
    ]


def test_export_csv_and_json_of_the_filtered_queue_audited(
    session: Session, login: Callable[[str], FlaskClient], staff: Callable[[str], Staff]
) -> None:
    urgent = factories.tip(
        session,
        priority=1,
        details='=HYPERLINK("http://x")',
        indicators=["fearful", "not_free"],
        assignee_id=staff("ny_admin").user.id,
    )
    normal = factories.tip(session, priority=3)
    factories.tip(session, priority=1, jurisdictions=["NJ"])
    session.commit()
    client = login("ny_triager")
    response = client.get("/staff/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [urgent.id, normal.id]
    assert rows[0]["details"] == '\'=HYPERLINK("http://x")'  # never run as a formula
    assert rows[0]["indicators"] == "fearful; not_free"
    assert rows[0]["assignee"] == "ny.admin@example.gov"
    assert rows[0]["jurisdictions"] == "NY"

    response = client.get("/staff/export.json?priority=1")
    records = json.loads(response.get_data(as_text=True))
    assert [r["id"] for r in records] == [urgent.id]
    assert records[0]["details"] == '=HYPERLINK("http://x")'
    assert records[0]["priority"] == "urgent"

    exports = [
        (e.detail["format"], e.detail["filters"], e.detail["count"])
        for e in audit_events(session, "tip.export")
    ]
    assert exports == [("csv", {}, 2), ("json", {"priority": "1"}, 1)]
    assert login("ny_viewer").get("/staff/export.csv").status_code == 403


def test_the_tip_page_lists_every_run_and_the_travelers_answer(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    from tipline.locations.schedule import train_runs

    nyp = factories.station(session)
    nwk = factories.station(session, **factories.NWK)
    phl = factories.station(session, **factories.PHL)
    hour = 3600
    train = factories.train(
        session,
        number="5",
        stops=[(nyp, None, 10 * hour), (nwk, 30 * hour, 30 * hour), (phl, 40 * hour, None)],
    )
    runs = train_runs(session, [train], datetime(2026, 6, 15, 16, tzinfo=UTC))
    assert len(runs) == 2
    tip = factories.tip(
        session,
        jurisdictions=["NY", "NJ", "PA"],
        location_kind="train",
        station_code=None,
        station_name=None,
        train_number="5/6",
        route_name="Northeast Regional",
        train_runs=[run.as_dict() for run in runs],
        traveler_last_stop_code="NWK",
        traveler_last_stop_name="Newark Penn Station",
        train_moving=True,
    )
    session.commit()
    html = login("ny_triager").get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    for text in (
        "the train last left <strong>Newark Penn Station (NWK)</strong>",
        "Train 5, run of 2026-06-14, under way: Newark Penn Station (NWK, NJ) Mon 06:00 EDT",
        "Philadelphia 30th Street (PHL, PA) Mon 16:00 EDT",
        "Train 5, run of 2026-06-15, under way: New York Penn Station (NYP, NY) Mon 10:00 EDT",
        "· scheduled",
    ):
        assert text in html, text
