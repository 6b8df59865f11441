"""The partner API: scoped bearer tokens, paging and filters, consent, audit, revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from openapi_spec_validator import validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tipline.accounts.models import AuditEvent
from tipline.cli import main
from tipline.config import update_settings
from tipline.intake.models import Tip

SECRET_WORDS = "Zorbl was moved at the third car"


def _token(runner: FlaskCliRunner, name: str, *codes: str) -> str:
    args = ["api-tokens", "create", "--name", name]
    for code in codes:
        args += ["--jurisdiction", code]
    result = runner.invoke(main, args=args)
    assert result.exit_code == 0, result.output
    return result.output.split("token (shown once): ", 1)[1].strip()


def _get(client: FlaskClient, url: str, token: str) -> tuple[int, Any]:
    response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json()


def _events(session: Session, action: str) -> list[AuditEvent]:
    session.commit()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def tips(session: Session) -> dict[str, Tip]:
    made = {
        "ny": factories.tip(session, details=SECRET_WORDS, consent_forward=True),
        "ny_private": factories.tip(session, details="Private words", consent_forward=False),
        "nj": factories.tip(
            session,
            jurisdictions=("NJ",),
            station_code="NWK",
            station_name="Newark",
            state="NJ",
            details="New Jersey words",
            consent_forward=True,
        ),
    }
    session.commit()
    return made


def test_a_new_york_token_never_sees_a_new_jersey_tip(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, tips: dict[str, Tip]
) -> None:
    ny = _token(runner, "NYPD", "NY")
    status, page = _get(client, "/api/v1/tips", ny)
    assert status == 200
    assert [t["id"] for t in page["tips"]] == [tips["ny"].id, tips["ny_private"].id]
    assert "New Jersey" not in str(page)
    status, body = _get(client, f"/api/v1/tips/{tips['nj'].id}", ny)
    assert status == 404 and "New Jersey" not in str(body)
    assert _get(client, "/api/v1/tips/999999", ny)[0] == 404
    [denied] = _events(session, "access.denied")
    assert denied.target == f"tip:{tips['nj'].id}" and denied.actor_email == "api:NYPD"
    # A national token sees all three; one for NJ only its own.
    assert len(_get(client, "/api/v1/tips", _token(runner, "FBI", "national"))[1]["tips"]) == 3
    nj = _token(runner, "NJSP", "NJ")
    assert [t["id"] for t in _get(client, "/api/v1/tips", nj)[1]["tips"]] == [tips["nj"].id]


def test_words_only_with_the_travelers_consent_and_never_internal_fields(
    client: FlaskClient, runner: FlaskCliRunner, tips: dict[str, Tip]
) -> None:
    token = _token(runner, "NYPD", "NY")
    _, shared = _get(client, f"/api/v1/tips/{tips['ny'].id}", token)
    assert shared["words"]["details"] == SECRET_WORDS
    assert shared["reference"] == f"TIP-{tips['ny'].id:06d}"
    assert shared["place"]["station_code"] == "NYP"
    assert shared["received_at"].endswith("+00:00")
    _, private = _get(client, f"/api/v1/tips/{tips['ny_private'].id}", token)
    assert private["words"] is None and "Private words" not in str(private)
    for field in ("receipt_hash", "submission_token", "assignee_id", "contact", "notes"):
        assert field not in shared


def test_paging_since_status_and_priority(
    client: FlaskClient, runner: FlaskCliRunner, session: Session
) -> None:
    made = [
        factories.tip(
            session,
            received_at=factories.TIP_TIME + timedelta(minutes=i),
            priority=1 if i % 2 else 3,
            status="acknowledged" if i == 4 else "new",
        )
        for i in range(7)
    ]
    session.commit()
    token = _token(runner, "NYPD", "NY")
    seen, url = [], "/api/v1/tips?limit=3"
    while url:
        status, page = _get(client, url, token)
        assert status == 200
        seen += [t["id"] for t in page["tips"]]
        url = f"/api/v1/tips?limit=3&cursor={page['next_cursor']}" if page["next_cursor"] else ""
    assert seen == [t.id for t in made]
    since = (factories.TIP_TIME + timedelta(minutes=5)).isoformat()
    _, page = _get(client, f"/api/v1/tips?since={since.replace('+', '%2B')}", token)
    assert [t["id"] for t in page["tips"]] == [made[5].id, made[6].id]
    _, page = _get(client, "/api/v1/tips?priority=urgent", token)
    assert [t["id"] for t in page["tips"]] == [made[1].id, made[3].id, made[5].id]
    _, page = _get(client, "/api/v1/tips?status=acknowledged", token)
    assert [t["id"] for t in page["tips"]] == [made[4].id]
    for bad in ("cursor=nope", "status=lost", "priority=9", "limit=0", "since=yesterday"):
        assert _get(client, f"/api/v1/tips?{bad}", token)[0] == 400, bad
    reads = _events(session, "api.tips.list")
    assert len(reads) == 3 + 3  # every read audited, refused queries are not reads
    assert reads[0].detail["tips"] == [t.id for t in made[:3]]


@pytest.mark.parametrize(
    ("bad", "answer"),
    [
        ("limit=1e9", "limit: a whole number from 1 to 200"),
        ("limit=0", "limit: a whole number from 1 to 200"),
        ("limit=" + "9" * 5000, "limit: a whole number from 1 to 200"),
        ("status=bogus", "status: one of new, acknowledged, investigating, referred, closed"),
        ("priority=9", "priority: one of urgent, high, normal, low"),
        (
            "since=2026-12-06T08:00:00%2B99:00",
            "since: a date and time in ISO 8601, such as 2026-12-06T08:00:00Z",
        ),
        ("since=yesterday", "since: a date and time in ISO 8601, such as 2026-12-06T08:00:00Z"),
        ("cursor=nope", "cursor: not a cursor this API gave out"),
    ],
)
def test_a_bad_query_gets_a_fixed_message_never_python_text(
    client: FlaskClient, runner: FlaskCliRunner, bad: str, answer: str
) -> None:
    token = _token(runner, "NYPD", "NY")
    status, body = _get(client, f"/api/v1/tips?{bad}", token)
    assert (status, body) == (400, {"error": answer})


def test_a_revoked_or_wrong_token_gets_401(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, tips: dict[str, Tip]
) -> None:
    token = _token(runner, "NYPD", "NY")
    assert _get(client, "/api/v1/tips", token)[0] == 200
    result = runner.invoke(main, args=["api-tokens", "revoke", "NYPD"])
    assert result.exit_code == 0, result.output
    for bad in (token, token[:-1] + "x", "", "tl_"):
        status, body = _get(client, "/api/v1/tips", bad)
        assert status == 401 and body == {"error": "a valid bearer token is required"}
    assert client.get("/api/v1/tips").status_code == 401
    listed = runner.invoke(main, args=["api-tokens", "list", "--json"]).output
    assert '"revoked_at": "' in listed and token not in listed
    assert [e.detail["name"] for e in _events(session, "api_token.revoke")] == ["NYPD"]
    # Only the hash is stored.
    from tipline.api.models import ApiToken

    assert token not in str([(t.token_hash, t.name) for t in session.scalars(select(ApiToken))])


def test_requests_beyond_the_rate_get_429(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, tips: dict[str, Tip]
) -> None:
    update_settings(app, API_RATE="3/60")
    token = _token(runner, "NYPD", "NY")
    assert [_get(client, "/api/v1/tips", token)[0] for _ in range(4)] == [200, 200, 200, 429]
    other = _token(runner, "NJSP", "NJ")
    assert _get(client, "/api/v1/tips", other)[0] == 200  # each token has its own budget


def test_the_openapi_document_validates(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    validate(doc)
    assert set(doc["paths"]) == {"/tips", "/tips/{tip_id}"}
