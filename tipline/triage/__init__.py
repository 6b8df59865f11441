"""The staff desk: the queue, tip handling, alerts, export, retention."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Check the alert settings and register the alert dispatcher with the serving processes."""
    from tipline.triage.alerts import worker

    worker.init_app(app)
