"""Markers `pybabel extract` finds in messages.py; at run time they only pair a key with English."""

from __future__ import annotations


def pgettext(key: str, english: str) -> tuple[str, tuple[str, ...], str | None]:
    """One message: its key (the gettext context) and its English text."""
    return key, (english,), None


def npgettext(
    key: str, singular: str, plural: str, count: str
) -> tuple[str, tuple[str, ...], str | None]:
    """A message with plural forms, chosen by the number in the placeholder named `count`."""
    return key, (singular, plural), count
