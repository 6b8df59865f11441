"""A traveler's tip, with a snapshot of where it came from taken at the moment it arrived."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.db import Base, intpk
from tipline.locations.models import Placement


class Priority(enum.IntEnum):
    """Lower sorts first in the queue."""

    URGENT = 1
    HIGH = 2
    NORMAL = 3
    LOW = 4


class TipStatus(enum.StrEnum):
    """Where a tip is in its handling (PRODUCT.md §5)."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    REFERRED = "referred"
    CLOSED = "closed"


class LocationKind(enum.StrEnum):
    """What the poster was bound to; UNKNOWN when the code was mistyped or missing."""

    STATION = "station"
    TRAIN = "train"
    UNKNOWN = "unknown"


class Tip(Base):
    """An anonymous tip. Nothing about the sender's device or network is ever stored."""

    __tablename__ = "tip"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority_range"),
        CheckConstraint("length(details) <= 4000", name="details_length"),
    )

    id: Mapped[intpk]
    received_at: Mapped[datetime] = mapped_column(
        index=True
    )  # the server's clock, never the client's
    # Idempotency: a double tap or a resent form carries the same token and stores one tip.
    submission_token: Mapped[str] = mapped_column(String(64), unique=True)
    receipt_hash: Mapped[str] = mapped_column(String(128), unique=True)
    lang: Mapped[str] = mapped_column(String(8), default="en")

    # --- where: a snapshot, so renaming a station or retiring a poster never rewrites history
    placement_id: Mapped[int | None] = mapped_column(
        ForeignKey("placement.id", ondelete="SET NULL"), index=True
    )
    placement_code: Mapped[str | None] = mapped_column(String(16), index=True)
    spot: Mapped[str | None] = mapped_column(String(200))
    location_kind: Mapped[LocationKind] = mapped_column(String(16), default=LocationKind.UNKNOWN)
    typed_place: Mapped[str | None] = mapped_column(String(300))  # unknown codes: as typed
    station_code: Mapped[str | None] = mapped_column(String(64), index=True)
    station_name: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str | None] = mapped_column(String(8))
    train_number: Mapped[str | None] = mapped_column(String(32), index=True)
    route_name: Mapped[str | None] = mapped_column(String(255))
    trip_id: Mapped[str | None] = mapped_column(String(128))
    service_date: Mapped[date | None]
    last_stop_code: Mapped[str | None] = mapped_column(String(64))
    last_stop_name: Mapped[str | None] = mapped_column(String(255))
    last_stop_time: Mapped[datetime | None]
    next_stop_code: Mapped[str | None] = mapped_column(String(64))
    next_stop_name: Mapped[str | None] = mapped_column(String(255))
    next_stop_time: Mapped[datetime | None]
    train_moving: Mapped[bool] = mapped_column(default=False)

    # --- what the traveler told us
    indicators: Mapped[list[str]] = mapped_column(JSON, default=list)
    happening_now: Mapped[bool] = mapped_column(default=False)
    when_text: Mapped[str | None] = mapped_column(String(200))
    where_text: Mapped[str | None] = mapped_column(String(300))
    car: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[str | None] = mapped_column(String(200))
    people_count: Mapped[int | None]
    descriptions: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str | None] = mapped_column(String(300))
    consent_forward: Mapped[bool] = mapped_column(default=False)

    # --- handling
    priority: Mapped[Priority] = mapped_column(Integer, index=True)
    status: Mapped[TipStatus] = mapped_column(String(16), default=TipStatus.NEW, index=True)

    placement: Mapped[Placement | None] = relationship()
    jurisdictions: Mapped[list[TipJurisdiction]] = relationship(
        back_populates="tip", cascade="all, delete-orphan"
    )

    def jurisdiction_codes(self) -> list[str]:
        """The states/provinces this tip is routed to."""
        return sorted(j.code for j in self.jurisdictions)

    def snapshot(self) -> dict[str, Any]:
        """The location snapshot as plain data (export, staff views)."""
        fields = [
            "placement_code",
            "spot",
            "location_kind",
            "typed_place",
            "station_code",
            "station_name",
            "state",
            "train_number",
            "route_name",
            "trip_id",
            "service_date",
            "last_stop_code",
            "last_stop_name",
            "last_stop_time",
            "next_stop_code",
            "next_stop_name",
            "next_stop_time",
            "train_moving",
        ]
        return {f: getattr(self, f) for f in fields}


class TipJurisdiction(Base):
    """A state/province a tip is routed to; one tip on a train may belong to several."""

    __tablename__ = "tip_jurisdiction"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), primary_key=True, index=True)

    tip: Mapped[Tip] = relationship(back_populates="jurisdictions")
