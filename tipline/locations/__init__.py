"""Stations, trains and placements: GTFS import, boundaries, schedules, realtime delays."""

from __future__ import annotations

from flask import Flask

from tipline.config import get_settings


def init_app(app: Flask) -> None:
    """Register the realtime poller with each serving process (never CLI commands), unless off."""
    if not inline_realtime_wanted(app):
        return
    from tipline import background
    from tipline.locations.realtime import poll_and_log

    # Started with the server, not with its first request (see tipline.background); each feed's
    # poll is claimed, so several workers never fetch one twice.
    every = get_settings(app).realtime_poll_seconds
    background.add_job(app, background.Job("realtime", poll_and_log, every=every))


def inline_realtime_wanted(app: Flask) -> bool:
    """TIPLINE_REALTIME_INLINE: default on, except in tests unless they set it."""
    setting = get_settings(app).realtime_inline
    return not app.testing if setting is None else setting
