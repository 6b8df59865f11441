"""A real SMTP server (aiosmtpd) and a real HTTP webhook receiver on loopback, and helpers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.triage.conftest import NOW, reread
from tipline.config import update_settings
from tipline.triage import alerts
from tipline.triage.models import Alert, ChannelTier

SECRET = "webhook-test-secret"


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """An SMTP server on a loopback port, keeping what it receives; it can go down and come
    back on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.envelopes: list[Any] = []
        self.arrived: list[float] = []  # time.monotonic() of each message
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        self.arrived.append(time.monotonic())
        return "250 OK"

    def start(self) -> None:
        """Listen (again)."""
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        """(recipients, parsed message) of everything received."""
        parsed = [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]
        return [(e.rcpt_tos, m) for e, m in zip(self.envelopes, parsed, strict=True)]  # type: ignore[misc]

    def to(self, address: str) -> list[EmailMessage]:
        """The messages sent to `address`."""
        return [m for rcpt, m in self.messages() if address in rcpt]


@pytest.fixture
def mailbox(app: Flask) -> Iterator[Mailbox]:
    """A running SMTP server the app sends to."""
    box = Mailbox()
    box.start()
    update_settings(app, SMTP_HOST="127.0.0.1", SMTP_PORT=box.port, SMTP_FROM="alerts@tipline.test")
    yield box
    box.stop()


class Hook:
    """A webhook receiver: answers with the queued statuses (then 200), keeps each request;
    `delay` seconds before answering (a slow receiver)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived: list[float] = []
        self.answers: list[int] = []
        self.delay = 0.0
        self.url = ""
        self.port = 0


@pytest.fixture
def hook(app: Flask) -> Iterator[Hook]:
    """A running webhook receiver, and the app's webhook secret set."""
    receiver = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.requests.append((dict(self.headers.items()), body))
            receiver.arrived.append(time.monotonic())
            time.sleep(receiver.delay)
            status = receiver.answers.pop(0) if receiver.answers else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "https://elsewhere.example.org/")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.port = server.server_port
    receiver.url = f"http://127.0.0.1:{server.server_port}/tipline/receiver-secret-path"
    update_settings(app, WEBHOOK_SECRET=SECRET)
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


def channels(
    session: Session,
    code: str,
    *,
    emails: tuple[str, ...] = (),
    webhooks: tuple[str, ...] = (),
    secondary: bool = False,
) -> None:
    """Add on-call channels to a jurisdiction, committed."""
    tier = ChannelTier.SECONDARY if secondary else ChannelTier.PRIMARY
    alerts.add_channels(
        session, jurisdiction=code, emails=emails, webhooks=webhooks, tier=tier, now=NOW
    )
    session.commit()


def alert_rows(session: Session) -> list[Alert]:
    """Every alert row, freshly read, in the order they were planned."""
    rows = list(reread(session).scalars(select(Alert).order_by(Alert.id)))
    # The test client's requests share this session: leave no old snapshot open for them.
    session.commit()
    return rows


def wait_for(condition: Callable[[], object], *, timeout: float, step: float = 0.05) -> float:
    """Poll until `condition()` is true; the seconds it took (fails the test at `timeout`)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(step)
    return time.monotonic() - start
