"""Partner API tokens: stored hashed, scoped to jurisdictions, revocable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from tipline.db import Base, intpk


class ApiToken(Base):
    """A bearer token an agency's system reads tips with. Only the token's SHA-256 is kept:
    a copy of the database cannot be used to read the API."""

    __tablename__ = "api_token"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    jurisdictions: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None
