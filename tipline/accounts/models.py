"""Models for accounts (being built)."""

from __future__ import annotations
