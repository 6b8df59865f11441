"""The gunicorn logger: no client address ever reaches a log line."""

from __future__ import annotations

import logging

import pytest
from gunicorn.config import Config

from tipline.serving import REDACTED, NoAddressLogger, redact


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
