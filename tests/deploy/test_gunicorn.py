"""gunicorn with deploy/gunicorn.conf.py: no client address in its log, even for malformed
requests, and no access log even when a request succeeds."""

from __future__ import annotations

import contextlib
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


def _chunked(path: str, chunks: list[bytes]) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + b"".join(chunks) + b"0\r\n\r\n"


def _first_line(port: int, data: bytes) -> bytes:
    """The status line the server answers with; it may answer, and close, before the body has
    all been sent (a reset then ends the sending, not the test)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with contextlib.suppress(OSError):
            s.sendall(data)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while b"\r\n" not in answer and (chunk := s.recv(4096)):
                answer += chunk
    return answer.split(b"\r\n", 1)[0]


def test_a_chunked_body_gets_411_never_a_500_nor_past_the_size_limit(
    server_db: ServerDatabase, tmp_path: Path
) -> None:
    """Attack findings: a malformed chunk size reached gunicorn's parser inside the view (a 500
    and a traceback on every form), and a chunked 3 MB body slipped past MAX_REQUEST_BYTES."""
    with server_db.app.app_context():
        poster = factories.placement(db.session, station=factories.station(db.session)).code
        db.session.commit()
    log = tmp_path / "gunicorn.log"
    big = b"code=AAAA-AAAA-AAAA-AAAA&pad=" + b"x" * 3_000_000
    with gunicorn(server_env(server_db, tmp_path), workers=1, log=log) as server:
        answers = {
            (path, kind): _first_line(server.port, _chunked(path, chunks))
            for path in ("/followup", f"/T/{poster}", "/report", "/staff/signin")
            for kind, chunks in (
                ("malformed", [b"zz\r\ncode=x\r\n"]),
                ("large", [b"%x\r\n%s\r\n" % (len(big), big)]),
            )
        }
        time.sleep(0.5)  # let the worker's log lines reach the file
    assert set(answers.values()) == {b"HTTP/1.1 411 LENGTH REQUIRED"}, answers
    output = log.read_text(errors="replace")
    assert "Traceback" not in output and "Exception on" not in output, output
