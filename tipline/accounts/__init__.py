"""Staff users, roles, jurisdictions, sign-in with a second factor, and the audit log."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Install this capability's request hooks and background work (none yet)."""
