"""The staff desk: the queue, tip handling, alerts, export, retention."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Install this capability's request hooks and background work (none yet)."""
