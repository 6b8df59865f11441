"""A traveler's tip, with a snapshot of where it came from taken at the moment it arrived."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.db import Base, intpk
from tipline.locations.models import Placement
from tipline.sealing import Sealed


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


class Indicator(enum.StrEnum):
    """What a traveler may tick (PRODUCT.md §3.4): behaviours only, never who someone is."""

    # control
    HOLDS_DOCUMENTS = "holds_documents"
    ANSWERS_FOR_THEM = "answers_for_them"
    NOT_FREE = "not_free"
    # travel
    UNSURE_DESTINATION = "unsure_destination"
    FEW_BELONGINGS = "few_belongings"
    YOUNG_GROUP_OLDER_ADULT = "young_group_older_adult"
    # relationship
    CHILD_NOT_THEIRS = "child_not_theirs"
    MUCH_OLDER_PARTNER = "much_older_partner"
    THREATENED = "threatened"
    # physical
    INJURIES = "injuries"
    BRANDING = "branding"
    DRUGGED_EXHAUSTED = "drugged_exhausted"
    CLOTHING = "clothing"
    # demeanour
    FEARFUL = "fearful"
    AVOIDS_STAFF = "avoids_staff"
    # a minor in commercial sex: always urgent
    MINOR_COMMERCIAL_SEX = "minor_commercial_sex"


# The form's groups, in the order a traveler reads them.
INDICATOR_GROUPS: tuple[tuple[str, tuple[Indicator, ...]], ...] = (
    (
        "control",
        (Indicator.HOLDS_DOCUMENTS, Indicator.ANSWERS_FOR_THEM, Indicator.NOT_FREE),
    ),
    (
        "travel",
        (
            Indicator.UNSURE_DESTINATION,
            Indicator.FEW_BELONGINGS,
            Indicator.YOUNG_GROUP_OLDER_ADULT,
        ),
    ),
    (
        "relationship",
        (Indicator.CHILD_NOT_THEIRS, Indicator.MUCH_OLDER_PARTNER, Indicator.THREATENED),
    ),
    (
        "physical",
        (
            Indicator.INJURIES,
            Indicator.BRANDING,
            Indicator.DRUGGED_EXHAUSTED,
            Indicator.CLOTHING,
        ),
    ),
    ("demeanour", (Indicator.FEARFUL, Indicator.AVOIDS_STAFF)),
    ("minor", (Indicator.MINOR_COMMERCIAL_SEX,)),
)


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
        # No length check on details: it is sealed (services.check_answers bounds the text).
        # --- handling (triage): the queue walks this index in order, open tips first.
        Index("ix_tip_queue", "is_closed", "priority", "received_at", "id"),
        Index("ix_tip_status_queue", "status", "priority", "received_at", "id"),
        Index("ix_tip_station_queue", "station_code", "is_closed", "priority", "received_at", "id"),
        Index("ix_tip_station_code_received_at", "station_code", "received_at"),
        Index("ix_tip_train_number_received_at", "train_number", "received_at"),
        Index("ix_tip_placement_id_received_at", "placement_id", "received_at"),
        # Every index costs each traveler's submission a write (and an fsync'd page): keep only
        # these composites, whose leading columns also serve the single-column lookups.
        CheckConstraint("is_closed = (status = 'closed')", name="closed_flag"),
        CheckConstraint(
            "resolution IS NULL OR resolution IN ('actioned', 'no_action', 'duplicate', "
            "'prank_spam')",
            name="resolution_known",
        ),
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
        ForeignKey("placement.id", ondelete="SET NULL")
    )
    placement_code: Mapped[str | None] = mapped_column(String(16), index=True)
    spot: Mapped[str | None] = mapped_column(String(200))
    location_kind: Mapped[LocationKind] = mapped_column(String(16), default=LocationKind.UNKNOWN)
    typed_place: Mapped[str | None] = mapped_column(Sealed("tip.typed_place"))  # as typed
    station_code: Mapped[str | None] = mapped_column(String(64))
    station_name: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str | None] = mapped_column(String(8))
    train_number: Mapped[str | None] = mapped_column(String(32))
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
    # Every run of the poster's train numbers under way when the tip came (or the next to
    # leave and the last to arrive): locations.runs.Run.as_dict() each. The last/next columns
    # above hold the one run the traveler's answer or the timetable singles out, if any.
    train_runs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # "Which station did the train last leave?" as the traveler answered it.
    traveler_last_stop_code: Mapped[str | None] = mapped_column(String(64))
    traveler_last_stop_name: Mapped[str | None] = mapped_column(String(255))

    # --- what the traveler told us: the free text is sealed at rest (tipline.sealing)
    indicators: Mapped[list[str]] = mapped_column(JSON, default=list)
    happening_now: Mapped[bool] = mapped_column(default=False)
    when_text: Mapped[str | None] = mapped_column(Sealed("tip.when_text"))
    where_text: Mapped[str | None] = mapped_column(Sealed("tip.where_text"))
    car: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[str | None] = mapped_column(Sealed("tip.direction"))
    people_count: Mapped[int | None]
    descriptions: Mapped[str | None] = mapped_column(Sealed("tip.descriptions"))
    details: Mapped[str] = mapped_column(Sealed("tip.details"), default="")
    contact: Mapped[str | None] = mapped_column(Sealed("tip.contact"))
    consent_forward: Mapped[bool] = mapped_column(default=False)
    # Sent while its poster was over its burst threshold (TIP_LIMIT_PER_PLACEMENT): still
    # stored, flagged so staff see a flood's tips together.
    in_burst: Mapped[bool] = mapped_column(default=False, server_default=false())

    # --- handling
    priority: Mapped[Priority] = mapped_column(Integer)
    status: Mapped[TipStatus] = mapped_column(String(16), default=TipStatus.NEW)
    # status == closed, kept as its own column so one index serves the queue's open-first order.
    is_closed: Mapped[bool] = mapped_column(default=False)
    priority_overridden: Mapped[bool] = mapped_column(default=False)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    opened_at: Mapped[datetime | None]  # first staff view: no alert goes out after it
    acknowledged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    resolution: Mapped[str | None] = mapped_column(String(16))  # triage.models.Resolution
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tip.id", ondelete="SET NULL"))
    # Typed by staff, sealed like the same values on the timeline (tip_event).
    referred_to: Mapped[str | None] = mapped_column(Sealed("tip.referred_to"))
    referral_ref: Mapped[str | None] = mapped_column(Sealed("tip.referral_ref"))

    placement: Mapped[Placement | None] = relationship()
    jurisdictions: Mapped[list[TipJurisdiction]] = relationship(
        back_populates="tip", cascade="all, delete-orphan"
    )

    def jurisdiction_codes(self) -> list[str]:
        """The states/provinces this tip is routed to."""
        return sorted(j.code for j in self.jurisdictions)


class TipJurisdiction(Base):
    """A state/province a tip is routed to; one tip on a train may belong to several."""

    __tablename__ = "tip_jurisdiction"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), primary_key=True, index=True)

    tip: Mapped[Tip] = relationship(back_populates="jurisdictions")
