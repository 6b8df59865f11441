"""Column types that seal on write and open on read: the rest of the code sees plain values.

The purpose (`tip.details`) is the AEAD's associated data. A sealed column cannot be searched or
compared in SQL (a LIKE would compare ciphertext): filter in Python after loading instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import LargeBinary, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from tipline.sealing.keyring import get_keyring


class Sealed(TypeDecorator[str]):
    """Text, sealed in the database under the current data key."""

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Seal on the way in."""
        return None if value is None else get_keyring().seal_text(value, self.purpose)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Open on the way out."""
        return None if value is None else get_keyring().open_text(value, self.purpose)


class SealedBytes(TypeDecorator[bytes]):
    """Bytes (a photo), sealed in the database under the current data key."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purpose = purpose

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        """Seal on the way in."""
        return None if value is None else get_keyring().seal_bytes(bytes(value), self.purpose)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        """Open on the way out."""
        return None if value is None else get_keyring().open_bytes(bytes(value), self.purpose)
