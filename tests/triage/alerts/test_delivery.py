"""Sending one alert: signatures, errors in words, settings refused at start-up."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import make_test_app
from tests.triage.alerts.conftest import SECRET, Hook, Mailbox, free_port
from tests.triage.conftest import NOW
from tipline import create_app
from tipline.cli import main
from tipline.config import SettingsError, get_settings
from tipline.db import Database
from tipline.triage import alerts
from tipline.triage.alerts.delivery import send_email, send_webhook
from tipline.triage.models import ChannelKind

MESSAGE = alerts.Announcement(
    alert_id=7,
    tip_id=42,
    priority="urgent",
    place="New York Penn Station (NYP)",
    jurisdictions=("NY",),
    channel_jurisdiction="NY",
    received_at=NOW - timedelta(minutes=1),
    url="https://tips.example.org/staff/tips/42",
    kind=ChannelKind.EMAIL,
    target="desk@example.gov",
)
SETTINGS = alerts.AlertSettings(public_url="https://tips.example.org", timeout=0.5)


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


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung mail server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def test_mail_errors_are_said_in_words(silent_server: int) -> None:
    closed = free_port()
    cases = [
        (
            replace(SETTINGS, smtp_host=None),
            "TIPLINE_SMTP_HOST is not set, so no email can be sent",
        ),
        (
            replace(SETTINGS, smtp_host="127.0.0.1", smtp_port=closed),
            f"could not reach the mail server 127.0.0.1:{closed}: connection refused",
        ),
        (
            replace(SETTINGS, smtp_host="127.0.0.1", smtp_port=silent_server),
            f"the mail server 127.0.0.1:{silent_server} did not answer within 0.5 s",
        ),
    ]
    for settings, words in cases:
        with pytest.raises(alerts.DeliveryError) as caught:
            send_email(MESSAGE, settings, now=NOW)
        assert str(caught.value) == words


def test_a_mail_server_that_refuses_the_address_is_said_so() -> None:
    class Refusing(Mailbox):
        async def handle_RCPT(  # noqa: N802
            self, server: object, session: object, envelope: object, address: str, options: list
        ) -> str:
            return "550 no such user here"

    box = Refusing()
    box.start()
    try:
        settings = replace(SETTINGS, smtp_host="127.0.0.1", smtp_port=box.port)
        with pytest.raises(alerts.DeliveryError) as caught:
            send_email(MESSAGE, settings, now=NOW)
        assert str(caught.value) == (
            f"the mail server 127.0.0.1:{box.port} refused the address desk@example.gov"
        )
    finally:
        box.stop()


def test_webhook_errors_are_said_in_words_without_the_path(hook: Hook, silent_server: int) -> None:
    message = replace(MESSAGE, kind=ChannelKind.WEBHOOK, target=hook.url)
    settings = replace(SETTINGS, webhook_secret=SECRET)
    hook.answers = [503, 302]
    port = hook.port
    cases = [
        (settings, message, f"the webhook at 127.0.0.1:{port} answered HTTP 503"),
        (
            settings,
            message,
            f"the webhook at 127.0.0.1:{port} answered HTTP 302 (a redirect: give the "
            "webhook's final URL)",
        ),
        (
            settings,
            replace(message, target=f"http://127.0.0.1:{free_port()}/secret-path"),
            "could not reach the webhook at 127.0.0.1:",
        ),
        (
            settings,
            replace(message, target=f"http://127.0.0.1:{silent_server}/secret-path"),
            f"the webhook at 127.0.0.1:{silent_server} did not answer within 0.5 s",
        ),
        (
            replace(settings, webhook_secret=None),
            message,
            "TIPLINE_WEBHOOK_SECRET is not set: webhooks are never sent unsigned",
        ),
    ]
    for each_settings, each_message, words in cases:
        with pytest.raises(alerts.DeliveryError) as caught:
            send_webhook(each_message, each_settings, now=NOW)
        assert str(caught.value).startswith(words), str(caught.value)
        assert "secret-path" not in str(caught.value)
    assert len(hook.requests) == 2  # the redirect was not followed


def test_an_escalation_says_how_long_nobody_answered() -> None:
    later = NOW + timedelta(minutes=20)
    subject, body = alerts.delivery.email_text(replace(MESSAGE, step=2), now=later)
    assert subject == (
        "[Tipline] NOT ACKNOWLEDGED after 21 min: URGENT tip #42 · New York Penn Station (NYP)"
    )
    assert "arrived 21 min ago and no one has acknowledged it yet (escalation 2)" in body
    payload = json.loads(alerts.delivery.webhook_body(replace(MESSAGE, step=2), now=later))
    assert (payload["event"], payload["step"]) == ("tip.urgent.escalated", 2)


BAD_SETTINGS = [
    ({"SMTP_FROM": "Tipline alerts"}, "TIPLINE_SMTP_FROM must be an email address"),
    ({"SMTP_HOST": "smtp://mail.example.org"}, "TIPLINE_SMTP_HOST must be a host name"),
    ({"SMTP_USER": "alerts"}, "TIPLINE_SMTP_PASSWORD is needed too"),
    ({"SMTP_PASSWORD": "x"}, "TIPLINE_SMTP_USER is needed too"),
    ({"OVERDUE_URGENT_MINUTES": "0"}, "TIPLINE_OVERDUE_URGENT_MINUTES must be above 0"),
    ({"SMTP_PORT": "twenty-five"}, "TIPLINE_SMTP_PORT must be a whole number"),
    ({"ALERT_ESCALATION_STEPS": "-1"}, "TIPLINE_ALERT_ESCALATION_STEPS must be at least 0"),
]


@pytest.mark.parametrize(("values", "words"), BAD_SETTINGS)
def test_a_bad_alert_setting_stops_the_start_with_one_clear_line(
    _migrated: str, tmp_path: Path, values: dict[str, str], words: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        make_test_app(_migrated, tmp_path, **values)
    assert words in str(caught.value)


def test_a_bad_alert_setting_in_the_environment_is_one_line_at_the_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TIPLINE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TIPLINE_SMTP_FROM", "not an address")
    outcome = CliRunner().invoke(main, ["oncall", "list"])
    assert outcome.exit_code == 1
    assert "bad setting: TIPLINE_SMTP_FROM must be an email address" in outcome.output
    assert "Traceback" not in outcome.output


def test_a_numeric_secret_stays_text(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIPLINE_WEBHOOK_SECRET", "8675309")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "TESTING": True})
    try:
        assert get_settings(app).webhook_secret == "8675309"
        assert alerts.AlertSettings.from_settings(get_settings(app)).webhook_secret == "8675309"
    finally:
        Database.engine(app).dispose()
