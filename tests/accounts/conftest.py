"""A clock the tests move by hand: the app reads the time from app.config["CLOCK"]."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask


class Clock:
    """A settable time source."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move time forward."""
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app: Flask) -> Clock:
    """The app's clock, starting at a fixed time."""
    fixed = Clock(datetime(2026, 11, 28, 14, 0, 5, tzinfo=UTC))
    app.config["CLOCK"] = fixed
    return fixed
