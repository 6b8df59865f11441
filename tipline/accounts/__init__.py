"""Staff users, roles, jurisdictions, sign-in with a second factor, and the audit log."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from tipline.accounts.auth import current_user, load_user


def init_app(app: Flask) -> None:
    """Resolve the signed-in user before each request; give templates the staff helpers."""
    # Flask's own defaults hold SESSION_COOKIE_SAMESITE = None, so a setdefault leaves it unset;
    # the staff session cookie must not ride along on another site's POST.
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.before_request(load_user)
    app.jinja_env.globals["has_endpoint"] = has_endpoint

    @app.context_processor
    def _staff() -> dict[str, Any]:
        return {"staff_user": current_user()}


def has_endpoint(name: str) -> bool:
    """True when a view named `name` is registered (the staff nav links only to what exists)."""
    return name in current_app.view_functions
