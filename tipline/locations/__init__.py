"""Stations, trains and placements: GTFS import, boundaries, schedules, realtime delays."""

from __future__ import annotations

from flask import Flask

from tipline.config import get_settings


def init_app(app: Flask) -> None:
    """Start the realtime poller with this process's first request, unless off."""
    if not inline_realtime_wanted(app):
        return
    from tipline.locations.realtime import start_inline_poller

    # Lazily, per serving process: CLI commands never get a thread, and each gunicorn worker
    # gets its own after forking (each feed's poll is claimed, so none is fetched twice).
    @app.before_request
    def _realtime_poller() -> None:
        start_inline_poller(app)


def inline_realtime_wanted(app: Flask) -> bool:
    """TIPLINE_REALTIME_INLINE: default on, except in tests unless they set it."""
    setting = get_settings(app).realtime_inline
    return not app.testing if setting is None else setting
