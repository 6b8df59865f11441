"""Urgent-tip alerts: an outbox derived from the data, claimed atomically, sent, retried.

A dispatcher pass (1) adds an Alert row for every urgent, unopened, recent tip and every on-call
channel of its jurisdictions that has none yet, (2) claims due rows with a conditional UPDATE so
several workers never send the same row, (3) sends each outside any transaction, (4) records the
outcome, scheduling a retry with backoff on failure. The traveler's request never waits on any of
this: it only inserts the tip.

Alerts carry no tip content: priority, place (station or train, jurisdiction), time, a staff link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import smtplib
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import and_, case, exists, false, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tipline.accounts import audit
from tipline.config import Settings, get_settings
from tipline.db import UTCDateTime, session_scope, utcnow
from tipline.intake.models import Priority, Tip, TipJurisdiction
from tipline.locations.regions import NATIONAL, UnknownJurisdiction, normalize
from tipline.triage.models import Alert, AlertStatus, ChannelKind, OnCallChannel
from tipline.triage.queue import place_label, station_timezones

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Tipline-Signature"
TIMESTAMP_HEADER = "X-Tipline-Timestamp"
DELIVERY_HEADER = "X-Tipline-Delivery"
REPLAY_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class AlertSettings:
    """Everything sending needs, read once from the app's settings."""

    public_url: str
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "tipline@localhost"
    smtp_starttls: bool = False
    webhook_secret: str | None = None
    # Urgent tips older than this are never announced (a first deployment, a long outage).
    window: timedelta = timedelta(hours=24)
    retry_seconds: float = 30.0  # first retry; doubles each time, up to retry_max_seconds
    retry_max_seconds: float = 900.0
    max_attempts: int = 10
    lease: timedelta = timedelta(minutes=2)  # a claim older than this is abandoned: reclaimable
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertSettings:
        """TIPLINE_SMTP_*, TIPLINE_WEBHOOK_SECRET and TIPLINE_ALERT_*."""
        return cls(
            public_url=settings.public_url,
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            smtp_user=settings.smtp_user,
            smtp_password=settings.smtp_password,
            smtp_from=settings.smtp_from,
            smtp_starttls=settings.smtp_starttls,
            webhook_secret=settings.webhook_secret,
            window=timedelta(hours=settings.alert_window_hours),
            retry_seconds=settings.alert_retry_seconds,
            max_attempts=settings.alert_max_attempts,
        )


class DeliveryError(Exception):
    """A channel refused or could not be reached; the message goes to last_error."""


@dataclass(frozen=True)
class Announcement:
    """What an alert says: nothing a traveler wrote."""

    alert_id: int
    tip_id: int
    priority: str
    place: str
    jurisdictions: tuple[str, ...]
    channel_jurisdiction: str
    received_at: datetime
    url: str
    kind: ChannelKind
    target: str


@dataclass
class DispatchReport:
    """What one dispatcher pass did."""

    planned: int = 0
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


# --- the outbox ------------------------------------------------------------------------------


def plan(session: Session, *, now: datetime, window: timedelta) -> int:
    """Add a pending Alert for each (urgent unopened recent tip, its channel) lacking one."""
    channel_fits = or_(
        OnCallChannel.jurisdiction == NATIONAL,
        exists().where(
            TipJurisdiction.tip_id == Tip.id, TipJurisdiction.code == OnCallChannel.jurisdiction
        ),
    )
    missing = (
        select(
            Tip.id,
            OnCallChannel.id,
            literal(AlertStatus.PENDING.value),
            literal(0),
            literal(now, UTCDateTime()),
            literal(now, UTCDateTime()),
        )
        .join(OnCallChannel, channel_fits)
        .where(
            # A range of ix_tip_queue: open, urgent, recent.
            Tip.is_closed == false(),
            Tip.priority == Priority.URGENT,
            Tip.received_at >= now - window,
            Tip.opened_at.is_(None),
            ~exists().where(Alert.tip_id == Tip.id, Alert.channel_id == OnCallChannel.id),
        )
    )
    columns = ["tip_id", "channel_id", "status", "attempts", "created_at", "next_attempt_at"]
    # One statement that starts by writing: on SQLite a transaction that read first could not
    # write after another worker's commit. Two workers planning the same pair keep one row.
    insert = _dialect(session).insert(Alert).from_select(columns, missing)
    added = session.execute(
        insert.on_conflict_do_nothing(index_elements=["tip_id", "channel_id"]).returning(Alert.id)
    )
    return len(added.all())


def _dialect(session: Session) -> Any:
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


def _due(now: datetime) -> Any:
    """A row is due when pending and its time has come, or when its claim was abandoned."""
    unopened = select(Tip.id).where(Tip.id == Alert.tip_id, Tip.opened_at.is_(None)).exists()
    return and_(
        or_(
            and_(Alert.status == AlertStatus.PENDING, Alert.next_attempt_at <= now),
            and_(Alert.status == AlertStatus.SENDING, Alert.claimed_until < now),
        ),
        unopened,
    )


def claim(
    session: Session, *, now: datetime, lease: timedelta, limit: int = 20
) -> list[tuple[int, int]]:
    """Take up to `limit` due alerts for this worker: (alert id, attempt number) pairs."""
    due = (
        select(Alert.id)
        .where(_due(now))
        .order_by(Alert.next_attempt_at)
        .limit(limit)
        # PostgreSQL: rows another worker is claiming are skipped, not waited for.
        .with_for_update(skip_locked=True)
    )
    # The outer condition is checked again on each row as it is written, so of two workers
    # racing for a row exactly one changes it; RETURNING says which rows are this worker's.
    claimed = session.execute(
        update(Alert)
        .where(Alert.id.in_(due), _due(now))
        .values(status=AlertStatus.SENDING, claimed_until=now + lease, attempts=Alert.attempts + 1)
        .returning(Alert.id, Alert.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((alert_id, attempts) for alert_id, attempts in claimed)


def announcement(session: Session, alert_id: int, public_url: str) -> Announcement:
    """What a claimed alert will say."""
    alert = session.get_one(Alert, alert_id)
    tip = session.get_one(Tip, alert.tip_id)
    zones = station_timezones(session, {tip.next_stop_code})
    return Announcement(
        alert_id=alert.id,
        tip_id=tip.id,
        priority=Priority(tip.priority).name.lower(),
        place=place_label(tip, zones, typed=False),
        jurisdictions=tuple(tip.jurisdiction_codes()),
        channel_jurisdiction=alert.channel.jurisdiction,
        received_at=tip.received_at,
        url=f"{public_url}/staff/tips/{tip.id}",
        kind=ChannelKind(alert.channel.kind),
        target=alert.channel.target,
    )


def record_outcome(
    session: Session,
    alert_id: int,
    *,
    attempt: int,
    error: str | None,
    now: datetime,
    settings: AlertSettings,
) -> AlertStatus:
    """Mark a claimed alert sent, or schedule its retry with backoff (failed after the last;
    cancelled if someone opened the tip meanwhile). One UPDATE, for SQLite's sake."""
    values: dict[str, Any] = {"claimed_until": None}
    if error is None:
        status: Any = AlertStatus.SENT
        values.update(sent_at=now, last_error=None)
    elif attempt >= settings.max_attempts:
        status = AlertStatus.FAILED
        values.update(last_error=error[:500])
    else:
        delay = min(settings.retry_seconds * 2 ** (attempt - 1), settings.retry_max_seconds)
        opened = select(Tip.id).where(Tip.id == Alert.tip_id, Tip.opened_at.is_not(None))
        status = case(
            (opened.exists(), AlertStatus.CANCELLED.value), else_=AlertStatus.PENDING.value
        )
        values.update(last_error=error[:500], next_attempt_at=now + timedelta(seconds=delay))
    stored = session.execute(
        update(Alert)
        .where(Alert.id == alert_id)
        .values(status=status, **values)
        .returning(Alert.status)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return AlertStatus(stored)


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


# --- sending ---------------------------------------------------------------------------------


def deliver(message: Announcement, settings: AlertSettings, *, now: datetime) -> None:
    """Send one announcement; DeliveryError when it did not go."""
    if message.kind == ChannelKind.EMAIL:
        send_email(message, settings)
    else:
        send_webhook(message, settings, now=now)


def email_text(message: Announcement) -> tuple[str, str]:
    """Subject and body of an alert email."""
    subject = f"[Tipline] {message.priority.upper()} tip #{message.tip_id} · {message.place}"
    body = "\n".join(
        [
            f"An {message.priority} tip has arrived and no one has opened it yet.",
            "",
            f"Priority:      {message.priority}",
            f"Place:         {message.place}",
            f"Jurisdictions: {', '.join(message.jurisdictions) or 'none'}",
            f"Received:      {message.received_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Open it (sign-in required): {message.url}",
            "",
            "No tip content is ever sent by email. You get one alert per tip until someone "
            "opens it.",
        ]
    )
    return subject, body


def send_email(message: Announcement, settings: AlertSettings) -> None:
    """Send the alert by SMTP (STARTTLS and login when configured)."""
    if not settings.smtp_host:
        raise DeliveryError("TIPLINE_SMTP_HOST is not set")
    subject, body = email_text(message)
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = message.target
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="tipline")
    mail.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP: {exc}") from exc


def webhook_body(message: Announcement, *, now: datetime) -> bytes:
    """The JSON a webhook receives; `sent_at` inside it is what the signature dates."""
    payload = {
        "event": "tip.urgent",
        "delivery": message.alert_id,
        "tip": message.tip_id,
        "priority": message.priority,
        "place": message.place,
        "jurisdictions": list(message.jurisdictions),
        "channel_jurisdiction": message.channel_jurisdiction,
        "received_at": message.received_at.astimezone(UTC).isoformat(),
        "url": message.url,
        "sent_at": int(now.timestamp()),
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: "sha256=" and the HMAC-SHA256 of the raw body, in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(
    secret: str, body: bytes, signature: str | None, timestamp: str | None, *, now: datetime
) -> bool:
    """What a receiver checks: the signature, the timestamp header matching the signed body's
    sent_at, and that it is recent (a replayed alert is refused)."""
    if not signature or not timestamp or not hmac.compare_digest(sign(secret, body), signature):
        return False
    try:
        sent_at = int(json.loads(body)["sent_at"])
        stamped = int(timestamp)
    except (ValueError, KeyError, TypeError):
        return False
    age = abs(now.timestamp() - sent_at)
    return sent_at == stamped and age <= REPLAY_TOLERANCE.total_seconds()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected webhook is a failure: a POST must not turn into a GET somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def send_webhook(message: Announcement, settings: AlertSettings, *, now: datetime) -> None:
    """POST the signed JSON; any answer but 2xx is a failure."""
    if not settings.webhook_secret:
        raise DeliveryError("TIPLINE_WEBHOOK_SECRET is not set: webhooks are never sent unsigned")
    try:
        url = check_webhook_url(message.target)
    except ValueError as exc:
        raise DeliveryError(str(exc)) from exc
    body = webhook_body(message, now=now)
    # The scheme was just checked: https, or http to localhost; never file: or another.
    request = urllib.request.Request(  # noqa: S310
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Tipline-Alerts/1",
            SIGNATURE_HEADER: sign(settings.webhook_secret, body),
            TIMESTAMP_HEADER: str(json.loads(body)["sent_at"]),
            DELIVERY_HEADER: str(message.alert_id),
        },
    )
    try:
        with _opener.open(request, timeout=settings.timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"webhook unreachable: {exc}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook answered HTTP {status}")


def check_webhook_url(url: str) -> str:
    """The URL if fit for a webhook: https, or http to this machine only (tests, a local relay)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}:
        return url
    raise ValueError(f"{url}: a webhook must be an https:// URL (http only to localhost)")


# --- on-call channels -------------------------------------------------------------------------

_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")


class InvalidChannel(ValueError):
    """An on-call channel that cannot be used; the message says why."""


def set_channels(
    session: Session,
    *,
    jurisdiction: str,
    emails: Sequence[str],
    webhooks: Sequence[str],
    now: datetime,
) -> tuple[list[OnCallChannel], int]:
    """Make a jurisdiction's channels exactly these; unchanged ones keep their alert history
    (so no tip is announced twice). Returns the channels and how many were removed."""
    try:
        (code,) = normalize([jurisdiction])
    except UnknownJurisdiction as exc:
        raise InvalidChannel(str(exc)) from exc
    wanted: set[tuple[ChannelKind, str]] = set()
    for address in emails:
        if not _EMAIL.fullmatch(address.strip()):
            raise InvalidChannel(f"{address!r} is not an email address")
        wanted.add((ChannelKind.EMAIL, address.strip()))
    for url in webhooks:
        try:
            wanted.add((ChannelKind.WEBHOOK, check_webhook_url(url.strip())))
        except ValueError as exc:
            raise InvalidChannel(str(exc)) from exc
    current = session.scalars(select(OnCallChannel).where(OnCallChannel.jurisdiction == code)).all()
    removed = 0
    for channel in current:
        if (ChannelKind(channel.kind), channel.target) in wanted:
            wanted.discard((ChannelKind(channel.kind), channel.target))
        else:
            session.delete(channel)
            removed += 1
    for kind, target in sorted(wanted):
        session.add(OnCallChannel(jurisdiction=code, kind=kind, target=target, created_at=now))
    session.flush()
    channels = list_channels(session, jurisdiction=code)
    audit.record(
        session,
        action="oncall.set",
        actor=None,
        now=now,
        target=f"oncall:{code}",
        # Webhook URLs often carry a secret in their path: the audit log keeps only the host.
        detail={
            "emails": [c.target for c in channels if c.kind == ChannelKind.EMAIL],
            "webhooks": [
                urlsplit(c.target).hostname for c in channels if c.kind == ChannelKind.WEBHOOK
            ],
            "removed": removed,
        },
    )
    return channels, removed


def list_channels(session: Session, *, jurisdiction: str | None = None) -> list[OnCallChannel]:
    """Every on-call channel (or one jurisdiction's), by jurisdiction then kind."""
    query = select(OnCallChannel).order_by(
        OnCallChannel.jurisdiction, OnCallChannel.kind, OnCallChannel.target
    )
    if jurisdiction is not None:
        query = query.where(OnCallChannel.jurisdiction == jurisdiction)
    return list(session.scalars(query))


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
