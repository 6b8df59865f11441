"""gunicorn with deploy/gunicorn.conf.py: no client address in its log, even for malformed
requests, and no access log even when a request succeeds."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests import factories
from tests.deploy.conftest import (
    FORM,
    SECRET,
    ServerDatabase,
    gunicorn,
    request,
    server_env,
    tip_body,
)
from tipline.db import db
from tipline.intake import tokens

CLIENT = "127.0.0.9"
FORWARDED = "203.0.113.77"


def raw(port: int, data: bytes) -> bytes:
    """Send bytes as they are from CLIENT; whatever comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(CLIENT, 0)) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_log_names_no_client_even_for_malformed_requests(
    server_db: ServerDatabase, tmp_path: Path
) -> None:
    with server_db.app.app_context():
        poster = factories.placement(db.session, station=factories.station(db.session)).code
        db.session.commit()
    log = tmp_path / "gunicorn.log"
    with gunicorn(server_env(server_db, tmp_path), workers=1, log=log) as server:
        answers = [
            raw(server.port, b"GARBAGE\r\n\r\n"),
            raw(server.port, b"GET / HTTP/9.9\r\nHost: x\r\n\r\n"),
            raw(
                server.port,
                b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: "
                + FORWARDED.encode()
                + b"\x01\r\n\r\n",
            ),
            raw(server.port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
            raw(
                server.port,
                b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: " + FORWARDED.encode() + b"\r\n\r\n",
            ),
        ]
        status, _ = request(
            server.port,
            "POST",
            f"/T/{poster}",
            tip_body(tokens.mint(SECRET)),
            source=CLIENT,
            headers={**FORM, "X-Forwarded-For": FORWARDED},
        )
        time.sleep(0.5)  # let the worker's log lines reach the file
    output = log.read_text(errors="replace")
    assert all(answer.startswith(b"HTTP/1.1 4") for answer in answers), answers
    assert status == 200
    assert "Invalid request from ip=[address]" in output  # logged, with the address replaced
    assert CLIENT not in output and FORWARDED not in output
    assert f"/T/{poster}" not in output  # no access line for the tip
