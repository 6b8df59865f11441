"""Models for triage (being built)."""

from __future__ import annotations
