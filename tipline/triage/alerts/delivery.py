"""Sending one alert: SMTP email or a signed webhook, with the settings that sending needs.

Alerts carry no tip content: priority, place (station or train, jurisdiction), time, a staff link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from tipline.config import Settings, SettingsError
from tipline.triage.display import stamp_utc
from tipline.triage.models import ChannelKind

SIGNATURE_HEADER = "X-Tipline-Signature"
TIMESTAMP_HEADER = "X-Tipline-Timestamp"
DELIVERY_HEADER = "X-Tipline-Delivery"
REPLAY_TOLERANCE = timedelta(minutes=5)


# An address as mail servers take it; deliberately loose (no display names, no lists).
EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")


@dataclass(frozen=True)
class AlertSettings:
    """Everything sending and escalating need, read once from the app's settings."""

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
    # A claim older than this was abandoned (its worker died mid-send) and is taken over. Longer
    # than the slowest send: connect, STARTTLS, login and DATA each wait up to `timeout`.
    lease: timedelta = timedelta(minutes=2)
    timeout: float = 10.0
    # An urgent tip nobody acknowledged is announced again every `escalate_every`, at most
    # `escalation_steps` times (None: never).
    escalate_every: timedelta | None = timedelta(minutes=10)
    escalation_steps: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertSettings:
        """TIPLINE_SMTP_*, TIPLINE_WEBHOOK_SECRET, TIPLINE_ALERT_* and the urgent deadline."""
        steps = settings.alert_escalation_steps
        minutes = settings.overdue_urgent_minutes
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
            escalate_every=timedelta(minutes=minutes) if steps and minutes > 0 else None,
            escalation_steps=steps if minutes > 0 else 0,
        )


def check_settings(settings: Settings) -> None:
    """Refuse, at start-up, settings that would only fail later in delivery (SettingsError)."""
    if not EMAIL.fullmatch(settings.smtp_from):
        raise SettingsError(
            f"TIPLINE_SMTP_FROM must be an email address, not {settings.smtp_from!r}"
        )
    host = settings.smtp_host
    if host is not None and (not host.strip() or "/" in host or any(c.isspace() for c in host)):
        raise SettingsError(f"TIPLINE_SMTP_HOST must be a host name, not {host!r}")
    if settings.smtp_user and settings.smtp_password is None:
        raise SettingsError("TIPLINE_SMTP_USER is set: TIPLINE_SMTP_PASSWORD is needed too")
    if settings.smtp_password is not None and not settings.smtp_user:
        raise SettingsError("TIPLINE_SMTP_PASSWORD is set: TIPLINE_SMTP_USER is needed too")
    if settings.alert_escalation_steps and settings.overdue_urgent_minutes <= 0:
        raise SettingsError(
            "TIPLINE_OVERDUE_URGENT_MINUTES must be above 0 while "
            "TIPLINE_ALERT_ESCALATION_STEPS is not 0 (it is the escalation interval)"
        )


class DeliveryError(Exception):
    """A channel refused or could not be reached; the message, in words, goes to last_error."""


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
    step: int = 0  # 0: the first announcement; n: the n-th escalation
    timezone: str | None = None  # the tip's local zone: people read its time there


def deliver(message: Announcement, settings: AlertSettings, *, now: datetime) -> None:
    """Send one announcement; DeliveryError when it did not go."""
    if message.kind == ChannelKind.EMAIL:
        send_email(message, settings, now=now)
    else:
        send_webhook(message, settings, now=now)


def _waited(message: Announcement, now: datetime) -> str:
    minutes = max(0, int((now - message.received_at).total_seconds() // 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def email_text(message: Announcement, *, now: datetime) -> tuple[str, str]:
    """Subject and body of an alert email."""
    priority = message.priority
    if message.step == 0:
        subject = f"[Tipline] {priority.upper()} tip #{message.tip_id} · {message.place}"
        opening = f"An {priority} tip has arrived and no one has acknowledged it yet."
        closing = "You are alerted again if no one acknowledges it in time."
    else:
        subject = (
            f"[Tipline] NOT ACKNOWLEDGED after {_waited(message, now)}: {priority.upper()} "
            f"tip #{message.tip_id} · {message.place}"
        )
        opening = (
            f"An {priority} tip arrived {_waited(message, now)} ago and no one has acknowledged "
            f"it yet (escalation {message.step})."
        )
        closing = "Acknowledge it on its page to stop these alerts."
    body = "\n".join(
        [
            opening,
            "",
            f"Priority:      {priority}",
            f"Place:         {message.place}",
            f"Jurisdictions: {', '.join(message.jurisdictions) or 'none'}",
            f"Received:      {stamp_utc(message.received_at, message.timezone)}",
            "",
            f"Open it (sign-in required): {message.url}",
            "",
            f"No tip content is ever sent by email. {closing}",
        ]
    )
    return subject, body


def send_email(message: Announcement, settings: AlertSettings, *, now: datetime) -> None:
    """Send the alert by SMTP (STARTTLS and login when configured)."""
    subject, body = email_text(message, now=now)
    send_mail(settings, to=message.target, subject=subject, body=body)


def send_mail(settings: AlertSettings, *, to: str, subject: str, body: str) -> None:
    """Send one plain-text email by SMTP (STARTTLS and login when configured); DeliveryError
    says in words what went wrong."""
    if not settings.smtp_host:
        raise DeliveryError("TIPLINE_SMTP_HOST is not set, so no email can be sent")
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="tipline")
    mail.set_content(body)
    server = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"the mail server {server} refused the sign-in (check TIPLINE_SMTP_USER and "
            f"TIPLINE_SMTP_PASSWORD): {_smtp_reply(exc)}"
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"the mail server {server} refused the address {to}") from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"the mail server {server} refused the message: {_smtp_reply(exc)}"
        ) from exc
    except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
        # smtplib reports a reply that never came as a disconnection "timed out".
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            raise DeliveryError(
                f"the mail server {server} did not answer within {settings.timeout:g} s"
            ) from exc
        raise DeliveryError(f"the mail server {server} closed the connection") from exc
    except ssl.SSLError as exc:
        raise DeliveryError(f"STARTTLS with the mail server {server} failed: {exc.reason}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"could not reach the mail server {server}: {_reason(exc)}") from exc


def _smtp_reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"{exc.smtp_code} {text}".strip()


def _reason(exc: BaseException) -> str:
    """An OS error in words: "connection refused", not "[Errno 111] Connection refused"."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def webhook_body(message: Announcement, *, now: datetime) -> bytes:
    """The JSON a webhook receives; `sent_at` inside it is what the signature dates."""
    payload = {
        "event": "tip.urgent" if message.step == 0 else "tip.urgent.escalated",
        "delivery": message.alert_id,
        "step": message.step,
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
    host = webhook_host(url)
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
        hint = " (a redirect: give the webhook's final URL)" if 300 <= exc.code < 400 else ""
        raise DeliveryError(f"the webhook at {host} answered HTTP {exc.code}{hint}") from exc
    except TimeoutError as exc:
        raise DeliveryError(
            f"the webhook at {host} did not answer within {settings.timeout:g} s"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        if isinstance(getattr(exc, "reason", None), TimeoutError):
            raise DeliveryError(
                f"the webhook at {host} did not answer within {settings.timeout:g} s"
            ) from exc
        raise DeliveryError(f"could not reach the webhook at {host}: {_reason(exc)}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"the webhook at {host} answered HTTP {status}")


def check_webhook_url(url: str) -> str:
    """The URL if fit for a webhook: https, or http to this machine only (tests, a local relay)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}:
        return url
    raise ValueError(
        f"{webhook_host(url) or url!r}: a webhook must be an https:// URL (http only to localhost)"
    )


def webhook_host(url: str) -> str:
    """Where a webhook goes, without its path: the path often carries a secret of the receiver."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "")
