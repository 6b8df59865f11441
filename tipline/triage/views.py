"""Staff-side views for triage (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("triage", __name__)
