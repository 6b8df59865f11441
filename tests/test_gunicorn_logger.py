"""The gunicorn logger: no client address ever reaches a log line."""

from __future__ import annotations

import logging

import pytest
from gunicorn.config import Config

from tipline.serving import REDACTED, REQUEST_TEXT, NoAddressLogger, redact, scrub_request


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Invalid request from ip=203.0.113.9: bad", f"Invalid request from ip={REDACTED}: bad"),
        ("peer 203.0.113.9:51234 reset", f"peer {REDACTED} reset"),
        ("v6 2001:db8::1 and [::1]:8000", f"v6 {REDACTED} and [{REDACTED}]:8000"),
        ("mapped ::ffff:198.51.100.7.", f"mapped {REDACTED}."),
        ("full fe80:0:0:0:0:0:0:1", f"full {REDACTED}"),
        ("X-Forwarded-For: 198.51.100.1, 10.0.0.2", f"X-Forwarded-For: {REDACTED}, {REDACTED}"),
        ("gunicorn 27.0.1 at 12:30:45 pid 1234", "gunicorn 27.0.1 at 12:30:45 pid 1234"),
        ("hash deadbeef:cafe and 1.2", "hash deadbeef:cafe and 1.2"),
    ],
)
def test_redact_replaces_addresses_and_nothing_else(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_the_logger_redacts_messages_arguments_and_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = Config()
    cfg.set("errorlog", "-")
    cfg.set("accesslog", "-")  # asked for, and still never written
    logger = NoAddressLogger(cfg)
    logger.warning("Invalid request from ip=%s: %s", "198.51.100.23", "bad line")
    try:
        raise ValueError("while talking to 2001:db8::42")
    except ValueError:
        logger.exception("Error handling request from %s", "198.51.100.23")
    logger.access(object(), object(), {"REMOTE_ADDR": "198.51.100.23"}, 0)
    logger.setup(cfg)  # a HUP re-runs setup: still one filter
    logger.error("again 198.51.100.23")
    err = capsys.readouterr().err
    assert "198.51.100.23" not in err and "2001:db8::42" not in err
    assert err.count(f"Invalid request from ip={REDACTED}: bad line") == 1
    assert f"ValueError: while talking to {REDACTED}" in err
    assert f"again {REDACTED}" in err
    assert len(logging.getLogger("gunicorn.error").filters) == 1


def test_the_logger_keeps_a_malformed_requests_text_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A malformed request line may carry a set-up link's token or search text: gunicorn logs
    # it raw ("Invalid HTTP request line: 'GET /staff/setup/<token>...'"), and the URI of a
    # request whose handling failed.
    from gunicorn.http.errors import InvalidHeader, InvalidRequestLine, LimitRequestLine

    cfg = Config()
    cfg.set("errorlog", "-")
    logger = NoAddressLogger(cfg)
    line = "GET /staff/setup/SETUPTOKEN42\x01?q=SEARCHWORDS HTTP/1.1"
    for exc in (InvalidRequestLine(line), InvalidHeader("X-Token: SETUPTOKEN42")):
        # Exactly as gunicorn's worker writes it (workers/base.py handle_error).
        logger.warning(f"Invalid request from ip=198.51.100.23: {exc}")
    logger.warning("Invalid request from ip=198.51.100.23: %s", LimitRequestLine(9000, 4094))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("Error handling request %s %s", "GET", "/staff/setup/SETUPTOKEN42?q=x")
        logger.exception("Error handling request %s", "/t/SEARCHWORDS")
    err = capsys.readouterr().err
    assert "SETUPTOKEN42" not in err and "SEARCHWORDS" not in err and "198.51.100.23" not in err
    assert f"Invalid HTTP request line: {REQUEST_TEXT}" in err
    assert f"Invalid HTTP Header: {REQUEST_TEXT}" in err
    assert "Request Line is too large (9000 > 4094)" in err
    assert f"Error handling request GET {REQUEST_TEXT}" in err and "RuntimeError: boom" in err


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Booting worker with pid: 12", "Booting worker with pid: 12"),
        ("Error handling request (no URI read)", "Error handling request (no URI read)"),
        ("Invalid request from ip=x: 'GET /a'", f"Invalid request from ip=x: {REQUEST_TEXT}"),
        ("Invalid request from ip=x: No more data after: b'/a'", None),
    ],
)
def test_scrub_request_keeps_other_lines(line: str, expected: str | None) -> None:
    assert scrub_request(line) == (
        expected or f"Invalid request from ip=x: No more data after: {REQUEST_TEXT}"
    )
