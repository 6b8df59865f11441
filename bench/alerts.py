"""Urgent-tip alerts end to end, as an operator sees them: gunicorn, a real SMTP server and a real
webhook receiver on 127.0.0.1, and a fresh SQLite database in a temporary folder.

    .venv/bin/python bench/alerts.py [--rounds 5]

Every server runs with TIPLINE_WEBHOOK_SECRET=8675309 (digits: once an int that stopped every
alert) and no HTTP request reaches it unless said. About a minute and a half in all.

Printed, in seconds:
- tip stored -> its email and its webhook (signature checked), gunicorn -w 2, the default 2 s poll;
- SMTP down, then back -> the email (ALERT_RETRY_SECONDS=1);
- gunicorn restarted over an email left pending -> the email, with no request;
- tip unacknowledged -> national's email, OVERDUE_URGENT_MINUTES=0.05 (3 s);
- a scan -> its count in the database, SCAN_FLUSH_SECONDS=1, gunicorn and `tipline run`, and a
  scan buffered for an hour written at SIGTERM;
- the demo server's log: request lines, and occurrences of the client address and the token.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# bench/ leaves sys.path (its queue.py would hide the standard library's); the checkout joins it
# for the tests' SMTP server, factories and process helpers.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from sqlalchemy import func, select, update  # noqa: E402

from tests import factories, processes  # noqa: E402
from tests.triage.alerts.conftest import Mailbox  # noqa: E402
from tipline import create_app  # noqa: E402
from tipline.db import Database, session_scope  # noqa: E402
from tipline.intake.models import Tip  # noqa: E402
from tipline.locations.models import ScanCount  # noqa: E402
from tipline.migrate import upgrade  # noqa: E402
from tipline.sealing import Keyring  # noqa: E402
from tipline.triage import alerts  # noqa: E402
from tipline.triage.models import Alert, ChannelTier  # noqa: E402

SECRET = "8675309"
CLIENT = "127.0.0.2"


def until(condition: Callable[[], object], timeout: float = 60) -> float:
    """Seconds until `condition()` holds (polled every 20 ms)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"timed out after {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - start


def figures(label: str, values: list[float]) -> None:
    shown = ", ".join(f"{v:.2f}" for v in values)
    print(
        f"{label:<58} p50 {statistics.median(values):6.2f} s  max {max(values):6.2f} s  ({shown})"
    )


class Receiver:
    """The webhook side: keeps each body with its arrival time and whether it verified."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Thread

        self.got: list[tuple[float, dict[str, Any], bool]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                import json

                body = self.rfile.read(int(self.headers["Content-Length"]))
                good = alerts.verify(
                    SECRET,
                    body,
                    self.headers["X-Tipline-Signature"],
                    self.headers["X-Tipline-Timestamp"],
                    now=datetime.now(UTC),
                )
                outer.got.append((time.monotonic(), json.loads(body), good))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tipline-bench-alerts-"))
    # One keyring for the set-up app and every server it starts (they read each other's tips).
    os.environ.setdefault("TIPLINE_DATA_KEY", Keyring.generate().to_json())
    url = f"sqlite:///{work / 'bench.db'}"
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(work / "setup")})
    upgrade(app)
    mail, hook = Mailbox(), Receiver()
    mail.start()
    with session_scope(app) as session:
        alerts.add_channels(
            session, jurisdiction="NY", emails=["ny@ex.gov"], webhooks=[hook.url], now=_now()
        )
        alerts.add_channels(
            session, jurisdiction="NJ", emails=["nj@ex.gov"], webhooks=[], now=_now()
        )
        alerts.add_channels(
            session,
            jurisdiction="national",
            emails=["hq@ex.gov"],
            webhooks=[],
            tier=ChannelTier.PRIMARY,
            now=_now(),
        )
        placement = factories.placement(session, station=factories.station(session)).code

    def tip(code: str = "NY") -> int:
        with session_scope(app) as session:
            return factories.tip(session, priority=1, jurisdictions=[code], received_at=_now()).id

    def env(port: int, **settings: object) -> dict[str, str]:
        return processes.environment(
            url,
            work / "inst",
            WEBHOOK_SECRET=SECRET,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=port,
            **settings,
        )

    def gunicorn(port: int) -> list[str]:
        return [processes.GUNICORN, "-w", "2", "-b", f"127.0.0.1:{port}", "tipline:create_app()"]

    print(f"{args.rounds} rounds; database {url}")

    # 1. Tip -> email and webhook, default settings.
    email_s, hook_s = [], []
    with processes.running(gunicorn(processes.free_port()), env(mail.port), work / "1.log"):
        for _ in range(args.rounds):
            mails, hooks = len(mail.envelopes), len(hook.got)
            start = time.monotonic()
            tip()
            until(lambda m=mails: len(mail.envelopes) > m)  # type: ignore[misc]
            email_s.append(mail.arrived[-1] - start)
            until(lambda h=hooks: len(hook.got) > h)  # type: ignore[misc]
            hook_s.append(hook.got[-1][0] - start)
    figures("tip -> email (gunicorn -w 2, poll 2 s)", email_s)
    figures("tip -> webhook", hook_s)
    print(
        f"{'webhook signatures valid with secret 8675309':<58} "
        f"{sum(g for *_, g in hook.got)}/{len(hook.got)}"
    )

    # 2. SMTP down, then back.
    down = Mailbox()
    back_s = []
    settings = dict(ALERT_RETRY_SECONDS=1, ALERT_POLL_SECONDS=0.5)
    with processes.running(
        gunicorn(processes.free_port()), env(down.port, **settings), work / "2.log"
    ):
        for _ in range(args.rounds):
            before = len(down.envelopes)
            tip_id = tip("NJ")
            until(lambda t=tip_id: _attempts(app, t) >= 1)  # type: ignore[misc]
            down.start()
            start = time.monotonic()
            until(lambda b=before: len(down.envelopes) > b)  # type: ignore[misc]
            back_s.append(down.arrived[-1] - start)
            down.stop()
    figures("SMTP back -> the email (retry 1 s doubling, poll 0.5 s)", back_s)

    # 3. An email left pending across a gunicorn restart, no HTTP request.
    restart_s = []
    for _ in range(args.rounds):
        pending = Mailbox()
        port = processes.free_port()
        with processes.running(gunicorn(port), env(pending.port, **settings), work / "3a.log"):
            tip_id = tip("NJ")
            until(lambda t=tip_id: _attempts(app, t) >= 1)  # type: ignore[misc]
        pending.start()
        start = time.monotonic()
        with processes.running(gunicorn(port), env(pending.port, **settings), work / "3b.log"):
            until(lambda p=pending: p.envelopes)  # type: ignore[misc]
            restart_s.append(pending.arrived[0] - start)
        pending.stop()
    figures("gunicorn start -> email left pending (no request)", restart_s)

    # 4. Escalation to national.
    _acknowledge_all(app)
    escalate_s = []
    fast = dict(OVERDUE_URGENT_MINUTES=0.05, ALERT_ESCALATION_STEPS=1, ALERT_POLL_SECONDS=0.5)
    with processes.running(gunicorn(processes.free_port()), env(mail.port, **fast), work / "4.log"):
        for _ in range(args.rounds):
            start = time.monotonic()
            hq = len(mail.to("hq@ex.gov"))
            tip()
            until(lambda n=hq: len(mail.to("hq@ex.gov")) > n)  # type: ignore[misc]
            escalate_s.append(mail.arrived[-1] - start)
    figures("tip unacknowledged -> national's email (deadline 3 s)", escalate_s)

    # 5. Scan counts on a timer and at SIGTERM.
    for name, command in (("gunicorn", gunicorn), ("tipline run", _run)):
        flush_s = []
        port = processes.free_port()
        with processes.running(
            command(port), env(mail.port, SCAN_FLUSH_SECONDS=1), work / "5.log"
        ) as p:
            processes.wait_for_port(port, timeout=60, process=p)
            for _ in range(args.rounds):
                before = _scans(app)
                _get(port, f"/T/{placement}")
                start = time.monotonic()
                until(lambda b=before: _scans(app) > b)  # type: ignore[misc]
                flush_s.append(time.monotonic() - start)
        figures(f"scan -> count written, {name} (SCAN_FLUSH_SECONDS=1)", flush_s)
        with processes.running(
            command(port), env(mail.port, SCAN_FLUSH_SECONDS=3600), work / "6.log"
        ) as p:
            processes.wait_for_port(port, timeout=60, process=p)
            before = _scans(app)
            _get(port, f"/T/{placement}")
            processes.stop(p)
        print(
            f"{'scan buffered for an hour, written at SIGTERM: ' + name:<58} "
            f"{'yes' if _scans(app) == before + 1 else 'NO'}"
        )

    # 6. The demo server's log.
    port = processes.free_port()
    log = work / "demo.log"
    with processes.running(
        [processes.TIPLINE, "demo", "--port", str(port)], env(mail.port), log
    ) as p:
        processes.wait_for_port(port, timeout=60, process=p)
        token = (work / "inst" / "demo-admin-setup-link.txt").read_text().strip().rsplit("/", 1)[1]
        for path in (f"/staff/setup/{token}", f"/T/{placement}?lang=es", "/nope", "/staff/"):
            _get(port, path)
        processes.stop(p)
    text = log.read_text()
    lines = sum('"GET ' in line for line in text.splitlines())
    print(
        f"{'demo log: request lines / client addresses / tokens':<58} "
        f"{lines} / {text.count(CLIENT)} / {text.count(token)}"
    )

    mail.stop()
    Database.engine(app).dispose()
    shutil.rmtree(work, ignore_errors=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _run(port: int) -> list[str]:
    return [processes.TIPLINE, "run", "--port", str(port)]


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(CLIENT, 0))
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def _attempts(app: Any, tip_id: int) -> int:
    with session_scope(app) as session:
        return int(
            session.scalar(select(func.max(Alert.attempts)).where(Alert.tip_id == tip_id)) or 0
        )


def _acknowledge_all(app: Any) -> None:
    """Earlier rounds' tips stop alarming, so they do not escalate in a later measure."""
    with session_scope(app) as session:
        session.execute(update(Tip).where(Tip.status == "new").values(status="acknowledged"))


def _scans(app: Any) -> int:
    with session_scope(app) as session:
        return int(session.scalar(select(func.coalesce(func.sum(ScanCount.count), 0))) or 0)


if __name__ == "__main__":
    main()
