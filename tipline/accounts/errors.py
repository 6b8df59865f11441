"""The base of every accounts error: its message is safe to show to the person concerned."""

from __future__ import annotations


class AccountError(Exception):
    """Base of the accounts errors; the message is safe to show."""
