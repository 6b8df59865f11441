"""Follow-up messages (traveler additions and staff replies) and photos, sealed at rest."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tipline.db import Base, intpk
from tipline.sealing import Sealed, SealedBytes


class Author(enum.StrEnum):
    """Who wrote a follow-up message."""

    TRAVELER = "traveler"
    STAFF = "staff"


class TipMessage(Base):
    """One message on a tip after it was sent: the traveler's addition or a staff reply (shown
    to the traveler; internal notes live in the triage timeline and never are)."""

    __tablename__ = "tip_message"
    __table_args__ = (
        Index("ix_tip_message_tip_id_at", "tip_id", "at"),
        CheckConstraint("author IN ('traveler', 'staff')", name="author_known"),
    )

    id: Mapped[intpk]
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    author: Mapped[Author] = mapped_column(String(16))
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Sealed("tip_message.body"))


class TipPhoto(Base):
    """A photo sent with a tip or a follow-up: re-encoded without metadata, then sealed."""

    __tablename__ = "tip_photo"
    __table_args__ = (Index("ix_tip_photo_tip_id", "tip_id"),)

    id: Mapped[intpk]
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("tip_message.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(SealedBytes("tip_photo.data"))
