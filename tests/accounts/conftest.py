"""A clock the tests move by hand: the app reads the time from app.config["CLOCK"]."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from tests.conftest import Clock
from tests.triage.alerts.conftest import mailbox  # noqa: F401  (the SMTP server fixture)


@pytest.fixture
def clock(app: Flask) -> Clock:
    """The app's clock, starting at a fixed time."""
    fixed = Clock(datetime(2026, 11, 28, 14, 0, 5, tzinfo=UTC))
    app.config["CLOCK"] = fixed
    return fixed
