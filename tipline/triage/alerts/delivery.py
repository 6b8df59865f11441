"""Sending one alert: SMTP email or a signed webhook, with the settings that sending needs.

Alerts carry no tip content: priority, place (station or train, jurisdiction), time, a staff link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
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

from tipline.config import Settings
from tipline.triage.models import ChannelKind

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
