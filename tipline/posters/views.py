"""Staff-side views for posters (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("posters", __name__)
