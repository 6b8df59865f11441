"""Sealed at rest: tip text, photos and follow-up messages are encrypted in the database.

`keyring.Keyring` holds the data keys (AES-GCM, never in the database); `types.Sealed` and
`types.SealedBytes` are column types that seal on write and open on read, so every other module
reads and writes plain values (`tip.details` is text everywhere but in the database file).
"""

from __future__ import annotations

from tipline.sealing.keyring import Keyring, KeyringError, SealError, get_keyring, install
from tipline.sealing.types import Sealed, SealedBytes

__all__ = [
    "Keyring",
    "KeyringError",
    "SealError",
    "Sealed",
    "SealedBytes",
    "get_keyring",
    "install",
]
