"""The staff desk: the queue, tip handling, alerts, export, retention."""

from __future__ import annotations

from flask import Flask

from tipline.config import get_settings


def init_app(app: Flask) -> None:
    """Start the urgent-tip alert dispatcher with this process's first request, unless off."""
    if not inline_alerts_wanted(app):
        return
    from tipline.triage.alerts import start_inline_dispatcher

    # Started lazily, per serving process: CLI commands (migrations among them) never get a
    # thread, and each gunicorn worker gets its own after forking (claims are atomic).
    @app.before_request
    def _alert_dispatcher() -> None:
        start_inline_dispatcher(app)


def inline_alerts_wanted(app: Flask) -> bool:
    """TIPLINE_ALERTS_INLINE: default on, except in tests unless they set it."""
    setting = get_settings(app).alerts_inline
    return not app.testing if setting is None else setting
