"""Running the outbox: one dispatcher pass, and the job that repeats it beside the requests.

A pass (1) plans (first announcements and escalations), (2) claims due rows, (3) sends each
outside any transaction, every claimed alert at once in its own thread, (4) records each
outcome. The traveler's request never waits on any of this: it only inserts the tip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask

from tipline import background
from tipline.config import get_settings
from tipline.db import session_scope, utcnow
from tipline.triage.alerts.delivery import AlertSettings, DeliveryError, check_settings, deliver
from tipline.triage.alerts.outbox import (
    announcement,
    claim,
    has_due,
    needs_planning,
    plan,
    record_outcome,
)
from tipline.triage.models import AlertStatus

log = logging.getLogger(__name__)

# Sends under way at once; rows claimed at a time; batches in one pass (a burst of urgent tips
# goes out in one pass, 200 alerts at most, then the next pass goes on).
PARALLEL_SENDS = 8
BATCH = 20
BATCHES_PER_PASS = 10


@dataclass
class DispatchReport:
    """What one dispatcher pass did."""

    planned: int = 0
    escalated: int = 0
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """True when the pass did anything worth a log line."""
        return bool(self.planned or self.escalated or self.sent or self.failed)

    def __str__(self) -> str:
        return (
            f"planned {self.planned}, escalated {self.escalated}, sent {self.sent}, "
            f"failed {self.failed}"
        )


@dataclass(frozen=True)
class _Sent:
    alert_id: int
    kind: str
    error: str | None
    status: AlertStatus | None  # None: the outcome could not be stored (the lease brings it back)


def dispatch_once(app: Flask, *, now: datetime | None = None) -> DispatchReport:
    """One pass: plan, claim, send, record; each step commits on its own. `now` fixes the
    clock (tests); by default each step reads the real one."""
    settings = AlertSettings.from_settings(get_settings(app))
    report = DispatchReport()

    def clock() -> datetime:
        return now if now is not None else utcnow()

    # Each write step only when a read finds work for it: an idle pass takes no write lock.
    with session_scope(app) as session:
        busy = needs_planning(session, now=clock(), settings=settings)
    if busy:
        with session_scope(app, write=True) as session:
            planned = plan(session, now=clock(), settings=settings)
        report.planned, report.escalated = planned.alerts, len(planned.escalated)
    # A burst of urgent tips is sent in the same pass, a batch after another (bounded).
    for _batch in range(BATCHES_PER_PASS):
        with session_scope(app) as session:
            due = has_due(session, now=clock())
        if not due:
            break
        with session_scope(app, write=True) as session:
            claimed = claim(session, now=clock(), lease=settings.lease, limit=BATCH)
        if not claimed:
            break
        _send_batch(app, claimed, settings, clock, report)
        if len(claimed) < BATCH:
            break
    return report


def _send_batch(
    app: Flask,
    claimed: list[tuple[int, int]],
    settings: AlertSettings,
    clock: Callable[[], datetime],
    report: DispatchReport,
) -> None:
    """Send claimed alerts at once, each in a thread of its own: a mail server that hangs for
    its whole timeout delays no webhook and no other address, and one crash is only its own."""
    with ThreadPoolExecutor(
        max_workers=min(len(claimed), PARALLEL_SENDS), thread_name_prefix="tipline-send"
    ) as pool:
        outcomes = list(pool.map(lambda c: _send(app, c[0], c[1], settings, clock), claimed))
    for outcome in outcomes:
        if outcome.error is None:
            report.sent += 1
            continue
        report.failed += 1
        report.errors.append(
            f"alert {outcome.alert_id} ({outcome.kind}): {outcome.error} → "
            f"{outcome.status or 'left to its lease'}"
        )
        # Ids and the error only: never a place or anything about the tip in the log.
        log.warning(
            "alert %s to a %s channel failed: %s", outcome.alert_id, outcome.kind, outcome.error
        )


def _send(
    app: Flask,
    alert_id: int,
    attempt: int,
    settings: AlertSettings,
    clock: Callable[[], datetime],
) -> _Sent:
    """Send one claimed alert and record the outcome; never raises."""
    try:
        with session_scope(app) as session:
            message = announcement(session, alert_id, settings.public_url)
    except Exception:
        log.exception("alert %s could not be read; it is retried when its lease ends", alert_id)
        return _Sent(alert_id, "?", "could not be read from the database", None)
    try:
        deliver(message, settings, now=clock())
        error = None
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:
        # A bug or an odd setting costs this alert one attempt, never the other channels.
        log.exception("alert %s: unexpected error while sending", alert_id)
        error = f"unexpected error while sending ({type(exc).__name__}); see the server log"
    try:
        with session_scope(app, write=True) as session:
            status = record_outcome(
                session, alert_id, attempt=attempt, error=error, now=clock(), settings=settings
            )
    except Exception:
        log.exception("alert %s: outcome not stored; it is retried when its lease ends", alert_id)
        status = None
    return _Sent(alert_id, str(message.kind), error, status)


def dispatch_and_log(app: Flask) -> DispatchReport:
    """A dispatcher pass that says what it did in the log (counts only)."""
    report = dispatch_once(app)
    if report.busy:
        log.info("alerts: %s", report)
    return report


def worker_jobs(app: Flask) -> list[background.Job]:
    """What an alert worker repeats: inline in each web process, or in `tipline alerts run`.

    The hook for other periodic work that should run wherever alerts run: add a
    `background.Job` here. GTFS-realtime (`tipline.locations.realtime.poll_once(app)`) has its
    own poller and command today; to start it with each serving process rather than on the
    first request, register `background.Job("realtime", <a pass calling poll_once>, every=
    <REALTIME_POLL_SECONDS>)` with `background.add_job` in `tipline.locations.init_app`.
    """
    return [background.Job("alerts", dispatch_and_log, every=get_settings(app).alert_poll_seconds)]


def init_app(app: Flask) -> None:
    """Refuse unusable alert settings at start-up; register the inline dispatcher when wanted."""
    check_settings(get_settings(app))
    if inline_alerts_wanted(app):
        for job in worker_jobs(app):
            background.add_job(app, job)


def inline_alerts_wanted(app: Flask) -> bool:
    """TIPLINE_ALERTS_INLINE: default on, except in tests unless they set it."""
    setting = get_settings(app).alerts_inline
    return not app.testing if setting is None else setting
