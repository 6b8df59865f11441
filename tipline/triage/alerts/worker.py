"""Running the outbox: one dispatcher pass, and the thread that repeats it inside a web process.

A pass (1) plans, (2) claims due rows, (3) sends each outside any transaction, (4) records the
outcome. The traveler's request never waits on any of this: it only inserts the tip.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask

from tipline.config import get_settings
from tipline.db import session_scope, utcnow
from tipline.triage.alerts.delivery import AlertSettings, DeliveryError, deliver
from tipline.triage.alerts.outbox import announcement, claim, plan, record_outcome

log = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    """What one dispatcher pass did."""

    planned: int = 0
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def dispatch_once(app: Flask, *, now: datetime | None = None) -> DispatchReport:
    """One pass: plan, claim, send, record; each step commits on its own. `now` fixes the
    clock (tests); by default each step reads the real one."""
    settings = AlertSettings.from_settings(get_settings(app))
    report = DispatchReport()

    def clock() -> datetime:
        return now if now is not None else utcnow()

    with session_scope(app) as session:
        report.planned = plan(session, now=clock(), window=settings.window)
    with session_scope(app) as session:
        claimed = claim(session, now=clock(), lease=settings.lease)
    for alert_id, attempt in claimed:
        with session_scope(app) as session:
            message = announcement(session, alert_id, settings.public_url)
        # No transaction is open while a slow mail server or webhook answers.
        try:
            deliver(message, settings, now=clock())
            error = None
        except DeliveryError as exc:
            error = str(exc)
        with session_scope(app) as session:
            status = record_outcome(
                session, alert_id, attempt=attempt, error=error, now=clock(), settings=settings
            )
        if error is None:
            report.sent += 1
        else:
            report.failed += 1
            report.errors.append(f"alert {alert_id} ({message.kind}): {error} → {status}")
            # Ids and the error only: never a place or anything about the tip in the log.
            log.warning("alert %s to a %s channel failed: %s", alert_id, message.kind, error)
    return report


# --- the in-process dispatcher ---------------------------------------------------------------


_running: dict[int, threading.Event] = {}  # id(app) -> its thread's stop signal
_lock = threading.Lock()


def start_inline_dispatcher(app: Flask) -> bool:
    """Start this process's dispatcher thread for `app` once (True if it started now)."""
    with _lock:
        if id(app) in _running:
            return False
        stop = _running[id(app)] = threading.Event()
    poll = get_settings(app).alert_poll_seconds
    thread = threading.Thread(
        target=_run_until, args=(app, poll, stop), name="tipline-alerts", daemon=True
    )
    thread.start()
    return True


def stop_inline_dispatcher(app: Flask) -> None:
    """Ask `app`'s dispatcher thread to stop after its current pass."""
    with _lock:
        stop = _running.pop(id(app), None)
    if stop is not None:
        stop.set()


def _run_until(app: Flask, poll: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            dispatch_once(app)
        except Exception:
            # The loop must outlive a database hiccup; the traceback names no tip content.
            log.exception("alert dispatcher pass failed")
        stop.wait(poll)
