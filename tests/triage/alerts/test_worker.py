"""The dispatcher as it runs: a pass isolates each channel, the inline job runs only when asked,
the command-line worker, and the done-when cases in real time (a numeric webhook secret, SMTP
down while a viewer opens the tip, escalation to national)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import event
from sqlalchemy.orm import Session

from tests import factories, processes
from tests.conftest import make_test_app
from tests.triage.alerts.conftest import Hook, Mailbox, alert_rows, channels, wait_for
from tests.triage.conftest import NOW, audit_events
from tipline import background
from tipline.cli import main
from tipline.config import get_settings, update_settings
from tipline.db import Database, utcnow
from tipline.triage import alerts
from tipline.triage.models import AlertStatus, ChannelKind, OnCallChannel


def tipline_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("tipline-"))


def test_a_numeric_webhook_secret_signs_and_the_email_goes_too(
    _migrated: str, tmp_path: Path, session: Session, mailbox: Mailbox, hook: Hook
) -> None:
    # The worker as an operator runs it, configured by the environment: a secret of digits
    # once became an int and left the tip's email and webhook stuck in "sending".
    env = processes.environment(
        _migrated,
        tmp_path,
        WEBHOOK_SECRET="8675309",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=mailbox.port,
    )
    channels(session, "NY", emails=("ny-desk@example.gov",), webhooks=(hook.url,))
    factories.tip(session, priority=1, received_at=utcnow())
    session.commit()
    result = subprocess.run(
        [processes.TIPLINE, "alerts", "run", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "planned 2, escalated 0, sent 2, failed 0" in result.stdout
    ((headers, body),) = hook.requests
    signature, stamp = headers["X-Tipline-Signature"], headers["X-Tipline-Timestamp"]
    assert alerts.verify("8675309", body, signature, stamp, now=utcnow())
    assert len(mailbox.to("ny-desk@example.gov")) == 1
    assert {r.status for r in alert_rows(session)} == {AlertStatus.SENT}


def test_a_hanging_channel_delays_no_other(
    app: Flask, session: Session, mailbox: Mailbox, hook: Hook
) -> None:
    hook.delay = 2.0
    channels(session, "NY", emails=("ny-desk@example.gov",), webhooks=(hook.url,))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    done = threading.Thread(target=alerts.dispatch_once, args=(app,), kwargs={"now": NOW})
    done.start()
    wait_for(lambda: mailbox.envelopes, timeout=1.5)  # well before the webhook answers
    assert hook.requests and len(hook.arrived) == 1
    done.join(10)
    assert {r.status for r in alert_rows(session)} == {AlertStatus.SENT}


def test_a_channel_that_crashes_in_delivery_costs_only_its_own_attempt(
    app: Flask, session: Session, mailbox: Mailbox, hook: Hook
) -> None:
    channels(session, "NY", emails=("ny-desk@example.gov",), webhooks=(hook.url,))
    # A row the checks never let in (written by hand): the email library refuses the header.
    session.add(
        OnCallChannel(
            jurisdiction="NY", kind=ChannelKind.EMAIL, target="a@x.org\nBcc: b@y", created_at=NOW
        )
    )
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    report = alerts.dispatch_once(app, now=NOW)
    assert (report.sent, report.failed) == (2, 1), report.errors
    by_target = {r.channel.target: r for r in alert_rows(session)}
    broken = by_target["a@x.org\nBcc: b@y"]
    assert broken.status == AlertStatus.PENDING  # retried like any failure, never stuck
    assert broken.last_error == ("unexpected error while sending (ValueError); see the server log")
    assert len(mailbox.envelopes) == 1 and len(hook.requests) == 1


def test_smtp_down_a_viewer_opens_the_tip_smtp_returns_and_the_email_arrives(
    app: Flask,
    session: Session,
    login: Callable[[str], FlaskClient],
) -> None:
    box = Mailbox()  # its port, with nothing listening yet
    update_settings(
        app,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=box.port,
        ALERT_POLL_SECONDS=0.1,
        # The view comes right after a failed attempt, before the next: on SQLite a write by the
        # dispatcher between the view's read and its write is harden-staff's locking fix.
        ALERT_RETRY_SECONDS=1.5,
        ALERTS_INLINE=True,
    )
    channels(session, "NY", emails=("ny-desk@example.gov",))
    viewer = login("ny_viewer")
    tip = factories.tip(session, priority=1, received_at=utcnow())
    session.commit()
    background.start(app, only=alerts.worker_jobs(app))
    try:
        failed_once = [(AlertStatus.PENDING, 1)]
        wait_for(
            lambda: [(r.status, r.attempts) for r in alert_rows(session)] == failed_once, timeout=10
        )
        assert viewer.get(f"/staff/tips/{tip.id}").status_code == 200
        assert alert_rows(session)[0].status in (AlertStatus.PENDING, AlertStatus.SENDING)
        box.start()
        wait_for(lambda: box.envelopes, timeout=15)
    finally:
        background.stop(app)
        box.stop()
    (row,) = alert_rows(session)
    assert row.status == AlertStatus.SENT and row.attempts >= 2
    assert box.to("ny-desk@example.gov")[0]["Subject"].startswith(f"[Tipline] URGENT tip #{tip.id}")


def test_an_unacknowledged_urgent_tip_reaches_national_in_real_time(
    app: Flask, session: Session, mailbox: Mailbox, hook: Hook
) -> None:
    update_settings(
        app,
        OVERDUE_URGENT_MINUTES=0.02,  # 1.2 s
        ALERT_ESCALATION_STEPS=1,
        ALERT_POLL_SECONDS=0.1,
        ALERTS_INLINE=True,
    )
    channels(session, "NY", webhooks=(hook.url,))
    channels(session, "national", emails=("hq@example.gov",))
    tip = factories.tip(session, priority=1, received_at=utcnow())
    session.commit()
    background.start(app, only=alerts.worker_jobs(app))
    try:
        wait_for(lambda: hook.requests, timeout=10)
        assert mailbox.envelopes == []  # national hears it only once nobody answered in time
        waited = wait_for(lambda: mailbox.envelopes, timeout=15)
    finally:
        background.stop(app)
    assert waited > 0.5
    (message,) = mailbox.to("hq@example.gov")
    assert "NOT ACKNOWLEDGED" in message["Subject"] and f"tip #{tip.id}" in message["Subject"]
    assert [json.loads(b)["step"] for _, b in hook.requests] == [0, 1]
    assert [e.target for e in audit_events(session, "tip.escalated")] == [f"tip:{tip.id}"]


def test_the_inline_dispatcher_runs_only_when_asked(
    app: Flask, _migrated: str, tmp_path: Path, session: Session, mailbox: Mailbox
) -> None:
    channels(session, "NY", emails=("desk@example.gov",))
    factories.tip(session, priority=1, received_at=utcnow())
    session.commit()
    config = dict(SMTP_HOST="127.0.0.1", SMTP_PORT=get_settings(app).smtp_port)
    before = tipline_threads()
    quiet = make_test_app(_migrated, tmp_path / "quiet", **config)
    quiet.test_client().get("/staff/signin")
    live = make_test_app(
        _migrated, tmp_path / "live", ALERTS_INLINE=True, ALERT_POLL_SECONDS=0.05, **config
    )
    live.test_client().get("/staff/signin")
    try:
        assert tipline_threads() == before  # neither the app nor a request starts a thread
        assert [job.name for job in background.jobs(quiet)] == ["scan counts"]
        assert mailbox.envelopes == []
        assert background.start(live) and not background.start(live)  # once per process
        wait_for(lambda: mailbox.envelopes, timeout=10)
        assert "tipline-alerts" in tipline_threads()
    finally:
        background.stop(live)
        for other in (quiet, live):
            Database.engine(other).dispose()
    assert tipline_threads() == before
    assert len(mailbox.envelopes) == 1


def test_alerts_run_once_from_the_command_line(
    session: Session, runner: FlaskCliRunner, mailbox: Mailbox
) -> None:
    channels(session, "NY", emails=("desk@example.gov",))
    factories.tip(session, priority=1, received_at=utcnow() - timedelta(seconds=5))
    session.commit()
    result = runner.invoke(main, ["alerts", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "planned 1, escalated 0, sent 1, failed 0" in result.output
    assert len(mailbox.envelopes) == 1
    assert tipline_threads() == []


def test_an_idle_pass_only_reads(app: Flask, session: Session, mailbox: Mailbox) -> None:
    # On SQLite any write transaction, even one that changes nothing, makes a staff request that
    # read first fail to write ("database is locked"): a pass with nothing to do must not write.
    channels(session, "NY", emails=("ny-desk@example.gov",))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    assert alerts.dispatch_once(app, now=NOW).sent == 1
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    engine = Database.engine(app)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for minutes in (1, 5, 9):  # sent, not yet due to escalate: nothing to do
            report = alerts.dispatch_once(app, now=NOW + timedelta(minutes=minutes))
            assert not report.busy
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements and set(statements) <= {"SELECT", "BEGIN"}, statements
