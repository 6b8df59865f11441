"""Urgent-tip alerts against a real SMTP server (aiosmtpd) and a real HTTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import PUBLIC_URL, make_test_app
from tests.triage.conftest import NOW, Staff, reread
from tipline.cli import main
from tipline.config import get_settings, update_settings
from tipline.db import Database, utcnow
from tipline.triage import alerts, services
from tipline.triage.models import Alert, AlertStatus

SECRET = "webhook-test-secret"
# What the traveler wrote: none of it may leave in an alert.
CONTENT = dict(
    details="He has her passport",
    descriptions="red jacket, blond",
    contact="555-0199",
    indicators=["holds_documents", "minor_commercial_sex"],
    where_text="by the lockers",
    car="7",
    typed_place=None,
)


class Mailbox:
    """An SMTP server on a free loopback port, keeping what it receives."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        parsed = [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]
        return [(e.rcpt_tos, m) for e, m in zip(self.envelopes, parsed, strict=True)]  # type: ignore[misc]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox(app: Flask) -> Iterator[Mailbox]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    update_settings(app, SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="alerts@tipline.test")
    yield box
    controller.stop()


class Hook:
    """A webhook receiver: answers with the queued statuses (then 200), keeps each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.url = ""


@pytest.fixture
def hook(app: Flask) -> Iterator[Hook]:
    receiver = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.requests.append((dict(self.headers.items()), body))
            self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/tipline"
    update_settings(app, WEBHOOK_SECRET=SECRET)
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


def channels(
    session: Session, code: str, *, emails: tuple[str, ...] = (), webhooks: tuple[str, ...] = ()
) -> None:
    alerts.set_channels(session, jurisdiction=code, emails=emails, webhooks=webhooks, now=NOW)
    session.commit()


def alert_rows(session: Session) -> list[Alert]:
    return list(reread(session).scalars(select(Alert).order_by(Alert.id)))


def test_an_urgent_tip_alerts_each_channel_once_with_no_tip_content(
    app: Flask, session: Session, mailbox: Mailbox, hook: Hook
) -> None:
    channels(session, "NY", emails=("ny-desk@example.gov",), webhooks=(hook.url,))
    channels(session, "national", emails=("hq@example.gov",))
    channels(session, "PA", emails=("pa@example.gov",))
    urgent = factories.tip(session, priority=1, received_at=NOW - timedelta(minutes=1), **CONTENT)
    nj = factories.tip(
        session,
        priority=1,
        jurisdictions=["NJ"],
        station_code="NWK",
        station_name="Newark Penn Station",
        received_at=NOW,
    )
    factories.tip(session, priority=2, received_at=NOW, details="not urgent")
    factories.tip(session, priority=1, received_at=NOW - timedelta(days=2))  # too old
    session.commit()

    report = alerts.dispatch_once(app, now=NOW)
    assert (report.planned, report.sent, report.failed) == (4, 4, 0), report.errors
    received = sorted((to[0], m["Subject"]) for to, m in mailbox.messages())
    assert received == sorted(
        [
            (
                "ny-desk@example.gov",
                f"[Tipline] URGENT tip #{urgent.id} · New York Penn Station (NYP)",
            ),
            ("hq@example.gov", f"[Tipline] URGENT tip #{urgent.id} · New York Penn Station (NYP)"),
            ("hq@example.gov", f"[Tipline] URGENT tip #{nj.id} · Newark Penn Station (NWK)"),
        ]
    )
    body = mailbox.messages()[0][1].get_content()
    assert f"{PUBLIC_URL}/staff/tips/{urgent.id}" in body
    assert "Jurisdictions: NY" in body and "Priority:      urgent" in body

    ((headers, raw),) = hook.requests
    payload = json.loads(raw)
    assert payload == {
        "event": "tip.urgent",
        "delivery": payload["delivery"],
        "tip": urgent.id,
        "priority": "urgent",
        "place": "New York Penn Station (NYP)",
        "jurisdictions": ["NY"],
        "channel_jurisdiction": "NY",
        "received_at": (NOW - timedelta(minutes=1)).isoformat(),
        "url": f"{PUBLIC_URL}/staff/tips/{urgent.id}",
        "sent_at": int(NOW.timestamp()),
    }
    assert alerts.verify(
        SECRET, raw, headers["X-Tipline-Signature"], headers["X-Tipline-Timestamp"], now=NOW
    )

    everything = repr([m.as_string() for _, m in mailbox.messages()]) + repr(hook.requests)
    for value in ("passport", "red jacket", "555-0199", "holds_documents", "minor", "lockers"):
        assert value not in everything, value

    again = alerts.dispatch_once(app, now=NOW + timedelta(minutes=5))
    assert (again.planned, again.sent) == (0, 0)
    assert len(mailbox.envelopes) == 3 and len(hook.requests) == 1
    assert {a.status for a in alert_rows(session)} == {AlertStatus.SENT}


def test_a_failing_webhook_is_retried_later_with_backoff(
    app: Flask, session: Session, hook: Hook
) -> None:
    channels(session, "NY", webhooks=(hook.url,))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    hook.answers = [500, 503]

    first = alerts.dispatch_once(app, now=NOW)
    assert (first.sent, first.failed) == (0, 1)
    (row,) = alert_rows(session)
    assert (row.status, row.attempts, row.last_error) == (
        AlertStatus.PENDING,
        1,
        "webhook answered HTTP 500",
    )
    assert row.next_attempt_at == NOW + timedelta(seconds=30)

    assert alerts.dispatch_once(app, now=NOW + timedelta(seconds=20)).failed == 0  # not due
    assert len(hook.requests) == 1
    second = alerts.dispatch_once(app, now=NOW + timedelta(seconds=31))
    assert second.failed == 1
    (row,) = alert_rows(session)
    assert row.next_attempt_at == NOW + timedelta(seconds=31 + 60)  # doubled
    third = alerts.dispatch_once(app, now=NOW + timedelta(seconds=92))
    assert third.sent == 1
    (row,) = alert_rows(session)
    assert (row.status, row.attempts, row.last_error) == (AlertStatus.SENT, 3, None)
    deliveries = {json.loads(body)["delivery"] for _, body in hook.requests}
    assert len(hook.requests) == 3 and len(deliveries) == 1  # one alert, three tries


def test_it_gives_up_after_the_last_attempt(app: Flask, session: Session, hook: Hook) -> None:
    update_settings(app, ALERT_MAX_ATTEMPTS=2)
    channels(session, "NY", webhooks=(hook.url,))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    hook.answers = [500, 500, 500]
    alerts.dispatch_once(app, now=NOW)
    alerts.dispatch_once(app, now=NOW + timedelta(minutes=1))
    alerts.dispatch_once(app, now=NOW + timedelta(hours=1))
    (row,) = alert_rows(session)
    assert (row.status, row.attempts) == (AlertStatus.FAILED, 2)
    assert len(hook.requests) == 2


def test_opening_the_tip_stops_its_alerts(
    app: Flask,
    session: Session,
    hook: Hook,
    staff: Callable[[str], Staff],
    login: Callable[[str], FlaskClient],
) -> None:
    channels(session, "NY", webhooks=(hook.url,))
    retried = factories.tip(session, priority=1, received_at=NOW)
    opened_first = factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    services.record_view(session, tip=opened_first, actor=staff("ny_viewer").user, now=NOW)
    session.commit()
    hook.answers = [500]

    report = alerts.dispatch_once(app, now=NOW)
    assert (report.planned, report.failed) == (1, 1)  # nothing planned for the opened tip
    assert login("ny_triager").get(f"/staff/tips/{retried.id}").status_code == 200
    later = alerts.dispatch_once(app, now=NOW + timedelta(minutes=10))
    assert (later.planned, later.sent, later.failed) == (0, 0, 0)
    (row,) = alert_rows(session)
    assert (row.tip_id, row.status) == (retried.id, AlertStatus.CANCELLED)
    assert len(hook.requests) == 1


def test_an_unreachable_mail_server_or_missing_secret_is_a_retried_failure(
    app: Flask, session: Session
) -> None:
    update_settings(app, SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), WEBHOOK_SECRET=None)
    channels(session, "NY", emails=("desk@example.gov",), webhooks=("https://hooks.example.org/x",))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    report = alerts.dispatch_once(app, now=NOW)
    assert (report.sent, report.failed) == (0, 2)
    errors = sorted(r.last_error or "" for r in alert_rows(session))
    assert errors[0].startswith("SMTP: ")
    assert errors[1] == "TIPLINE_WEBHOOK_SECRET is not set: webhooks are never sent unsigned"
    assert {r.status for r in alert_rows(session)} == {AlertStatus.PENDING}


def test_two_dispatchers_at_once_send_each_alert_once(
    app: Flask, session: Session, mailbox: Mailbox, hook: Hook
) -> None:
    channels(session, "NY", emails=("a@example.gov", "b@example.gov"), webhooks=(hook.url,))
    for minute in range(4):
        factories.tip(session, priority=1, received_at=NOW - timedelta(minutes=minute))
    session.commit()
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            alerts.dispatch_once(app, now=NOW)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(mailbox.envelopes) == 8 and len(hook.requests) == 4
    assert len({json.loads(b)["delivery"] for _, b in hook.requests}) == 4
    assert len(alert_rows(session)) == 12


def test_claims_are_exclusive_and_abandoned_ones_return(app: Flask, session: Session) -> None:
    channels(session, "NY", emails=("a@example.gov",))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    lease = timedelta(minutes=2)
    alerts.plan(session, now=NOW, window=timedelta(hours=24))
    session.commit()
    first = alerts.claim(session, now=NOW, lease=lease)
    session.commit()
    assert [attempt for _, attempt in first] == [1]
    assert alerts.claim(session, now=NOW + timedelta(minutes=1), lease=lease) == []
    # The worker that claimed it died: after the lease, another takes it over.
    retaken = alerts.claim(session, now=NOW + timedelta(minutes=3), lease=lease)
    assert retaken == [(first[0][0], 2)]


def test_the_signature_refuses_tampering_other_secrets_and_replays() -> None:
    body = json.dumps({"tip": 1, "sent_at": int(NOW.timestamp())}).encode()
    signature = alerts.sign(SECRET, body)
    stamp = str(int(NOW.timestamp()))
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert alerts.verify(SECRET, body, signature, stamp, now=NOW)
    assert not alerts.verify(SECRET, body.replace(b"1", b"2", 1), signature, stamp, now=NOW)
    assert not alerts.verify("another-secret", body, signature, stamp, now=NOW)
    assert not alerts.verify(SECRET, body, signature, str(int(stamp) + 1), now=NOW)
    assert not alerts.verify(SECRET, body, signature, stamp, now=NOW + timedelta(minutes=6))
    assert not alerts.verify(SECRET, body, None, stamp, now=NOW)


def test_alerts_run_once_from_the_command_line(
    session: Session, runner: FlaskCliRunner, mailbox: Mailbox
) -> None:
    channels(session, "NY", emails=("desk@example.gov",))
    factories.tip(session, priority=1, received_at=utcnow())
    session.commit()
    result = runner.invoke(main, ["alerts", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "planned 1, sent 1, failed 0" in result.output
    assert len(mailbox.envelopes) == 1


def test_the_inline_dispatcher_runs_only_when_asked(
    app: Flask, _migrated: str, tmp_path: Any, session: Session, mailbox: Mailbox
) -> None:
    channels(session, "NY", emails=("desk@example.gov",))
    factories.tip(session, priority=1, received_at=utcnow())
    session.commit()
    config = dict(SMTP_HOST="127.0.0.1", SMTP_PORT=get_settings(app).smtp_port)
    quiet = make_test_app(_migrated, tmp_path / "quiet", **config)
    quiet.test_client().get("/staff/signin")
    time.sleep(0.5)
    assert mailbox.envelopes == []  # tests never get a thread unless they ask

    live = make_test_app(
        _migrated, tmp_path / "live", ALERTS_INLINE=True, ALERT_POLL_SECONDS=0.05, **config
    )
    try:
        live.test_client().get("/staff/signin")
        deadline = time.monotonic() + 10
        while not mailbox.envelopes and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(mailbox.envelopes) == 1
    finally:
        alerts.stop_inline_dispatcher(live)
        time.sleep(0.2)
        for other in (quiet, live):
            Database.engine(other).dispose()
