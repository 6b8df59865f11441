"""The traveler's pages (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("intake", __name__)
