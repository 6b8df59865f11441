"""Every server the README names, as its own process on loopback: gunicorn, `tipline run`,
`tipline demo`, and the `tipline alerts run` worker. Background work starts with the server and
not with a request; SIGTERM loses nothing buffered; the logs name no client and hold no token.
"""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories, processes
from tests.triage.alerts.conftest import Mailbox, alert_rows, channels, wait_for
from tests.triage.conftest import reread
from tipline.cli import main
from tipline.db import utcnow
from tipline.locations.models import ScanCount
from tipline.triage.models import AlertStatus

# The test talks to the servers from this address, so that any trace of it in a log is a leak.
CLIENT = "127.0.0.2"


def get(port: int, path: str, *, method: str = "GET", body: str | None = None) -> int:
    """One HTTP request from CLIENT; its status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(CLIENT, 0))
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def gunicorn(port: int, *, preload: bool = False) -> list[str]:
    """gunicorn as the README runs it: two workers, no access log."""
    args = [processes.GUNICORN, "-w", "2", "-b", f"127.0.0.1:{port}", "--graceful-timeout", "10"]
    return [*args, *(["--preload"] if preload else []), "tipline:create_app()"]


def tipline_run(port: int) -> list[str]:
    return [processes.TIPLINE, "run", "--port", str(port)]


SERVERS: dict[str, Callable[[int], list[str]]] = {"gunicorn": gunicorn, "tipline run": tipline_run}


def scans(session: Session) -> int:
    return int(reread(session).scalar(select(func.coalesce(func.sum(ScanCount.count), 0))) or 0)


@pytest.mark.parametrize("preload", [False, True], ids=["workers", "preload"])
def test_under_gunicorn_an_email_pending_across_a_restart_goes_with_no_request(
    _migrated: str, tmp_path: Path, session: Session, preload: bool
) -> None:
    box = Mailbox()  # the mail server is down at first
    env = processes.environment(
        _migrated,
        tmp_path,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=box.port,
        ALERT_POLL_SECONDS=0.2,
        ALERT_RETRY_SECONDS=0.5,
    )
    channels(session, "NY", emails=("ny-desk@example.gov",))
    tip = factories.tip(session, priority=1, received_at=utcnow())
    session.commit()
    port = processes.free_port()
    with processes.running(gunicorn(port, preload=preload), env, tmp_path / "first.log"):
        wait_for(lambda: [r.attempts for r in alert_rows(session)] >= [1], timeout=30)
    (row,) = alert_rows(session)
    assert row.status == AlertStatus.PENDING and row.last_error  # left pending by the stop
    box.start()
    try:
        started = time.monotonic()
        with processes.running(gunicorn(port, preload=preload), env, tmp_path / "second.log"):
            wait_for(lambda: box.envelopes, timeout=30)  # and not a single HTTP request
            delivered = box.arrived[0] - started
        assert box.to("ny-desk@example.gov")[0]["Subject"].startswith(
            f"[Tipline] URGENT tip #{tip.id}"
        )
        assert delivered < 30
    finally:
        box.stop()
    (row,) = alert_rows(session)
    assert row.status == AlertStatus.SENT
    log = (tmp_path / "second.log").read_text()
    assert "GET" not in log and CLIENT not in log


@pytest.mark.parametrize("server", list(SERVERS))
def test_scan_counts_are_written_on_a_timer_and_at_sigterm(
    _migrated: str, tmp_path: Path, session: Session, server: str
) -> None:
    placement = factories.placement(session, station=factories.station(session))
    session.commit()
    port = processes.free_port()
    timer = processes.environment(_migrated, tmp_path, SCAN_FLUSH_SECONDS=0.5)
    with processes.running(SERVERS[server](port), timer, tmp_path / "timer.log") as process:
        processes.wait_for_port(port, timeout=30, process=process)
        for _ in range(3):
            assert get(port, f"/T/{placement.code}") == 200
        took = wait_for(lambda: scans(session) == 3, timeout=10)  # no further request
    assert took < 5

    # A flush far away: only the shutdown can write this one.
    later = processes.environment(_migrated, tmp_path, SCAN_FLUSH_SECONDS=3600)
    with processes.running(SERVERS[server](port), later, tmp_path / "sigterm.log") as process:
        processes.wait_for_port(port, timeout=30, process=process)
        assert get(port, f"/T/{placement.code}") == 200
        time.sleep(0.3)
        assert scans(session) == 3
        assert processes.stop(process) == 0
    assert scans(session) == 4


def test_the_demo_servers_log_holds_no_client_address_or_set_up_token(
    _migrated: str, tmp_path: Path, session: Session
) -> None:
    port = processes.free_port()
    env = processes.environment(_migrated, tmp_path)
    log = tmp_path / "demo.log"
    with processes.running([processes.TIPLINE, "demo", "--port", str(port)], env, log) as process:
        processes.wait_for_port(port, timeout=60, process=process)
        # Its output is not a terminal: the one-time link went to a private file, not the log.
        link_file = tmp_path / "demo-admin-setup-link.txt"
        assert link_file.stat().st_mode & 0o777 == 0o600
        token = link_file.read_text().strip().rsplit("/", 1)[1]
        code = re.search(r"/T/([0-9A-Z]{8})", log.read_text())
        assert code is not None
        assert get(port, f"/staff/setup/{token}") == 200
        assert get(port, f"/staff/setup/{token}?retry=1") == 200
        assert get(port, f"/T/{code.group(1)}?lang=es") == 200
        assert get(port, "/staff/tips/1") == 302
        assert get(port, "/no/such/page") == 404
        assert get(port, "/staff/signin", method="POST", body="email=a%40b.org") == 400
        assert processes.stop(process) == 0
    text = log.read_text()
    assert '"GET /staff/setup/<token>" 200' in text  # the request is logged, by its route
    assert '"GET /t/<code>" 200' in text or '"GET /T/<code>" 200' in text
    assert '"GET (no route)" 404' in text
    for secret in (CLIENT, token, "retry=1", "lang=es"):
        assert secret not in text, secret
    # The demo prints its poster URLs at start; a request line never names the poster.
    requests = [line for line in text.splitlines() if '"GET ' in line or '"POST ' in line]
    assert len(requests) == 6 and not any(code.group(1) in line for line in requests)


def test_tipline_run_logs_routes_not_addresses_or_tokens(
    _migrated: str, tmp_path: Path, runner: FlaskCliRunner, app: Flask
) -> None:
    invite = ["users", "create", "--email", "new@ny.gov", "--role", "viewer"]
    created = runner.invoke(main, [*invite, "--jurisdiction", "NY"])
    match = re.search(r"/staff/setup/(\S+)", created.output)
    assert match, created.output
    token = match.group(1)
    port = processes.free_port()
    log = tmp_path / "run.log"
    env = processes.environment(_migrated, tmp_path)
    with processes.running(tipline_run(port), env, log) as process:
        processes.wait_for_port(port, timeout=30, process=process)
        assert get(port, f"/staff/setup/{token}") == 200
        assert processes.stop(process) == 0
    text = log.read_text()
    assert '"GET /staff/setup/<token>" 200' in text
    assert CLIENT not in text and token not in text


def test_the_alert_worker_runs_until_sigterm(
    _migrated: str, tmp_path: Path, session: Session
) -> None:
    box = Mailbox()
    box.start()
    try:
        env = processes.environment(
            _migrated, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=box.port, ALERT_POLL_SECONDS=0.2
        )
        channels(session, "NY", emails=("ny-desk@example.gov",))
        log = tmp_path / "worker.log"
        with processes.running([processes.TIPLINE, "alerts", "run"], env, log) as process:
            time.sleep(0.5)
            factories.tip(session, priority=1, received_at=utcnow())
            session.commit()
            wait_for(lambda: box.envelopes, timeout=20)
            assert processes.stop(process) == 0
        text = log.read_text()
        assert "alerts: planned 1, escalated 0, sent 1, failed 0" in text
        assert text.rstrip().endswith("alert worker stopped")
    finally:
        box.stop()
