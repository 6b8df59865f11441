"""A tip's handling timeline, the on-call channels per jurisdiction, and the alert outbox."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.accounts.models import User
from tipline.db import Base, intpk
from tipline.sealing import Sealed


class Resolution(enum.StrEnum):
    """Why a tip was closed."""

    ACTIONED = "actioned"
    NO_ACTION = "no_action"
    DUPLICATE = "duplicate"
    PRANK_SPAM = "prank_spam"

    @property
    def label(self) -> str:
        """How staff read it."""
        return _RESOLUTION_LABELS[self]


_RESOLUTION_LABELS = {
    Resolution.ACTIONED: "Actioned",
    Resolution.NO_ACTION: "No action",
    Resolution.DUPLICATE: "Duplicate",
    Resolution.PRANK_SPAM: "Prank or spam",
}


class EventKind(enum.StrEnum):
    """What happened to a tip, one timeline entry each."""

    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    ASSIGNED = "assigned"
    PRIORITY_CHANGED = "priority_changed"
    NOTE = "note"
    REFERRED = "referred"
    CLOSED = "closed"
    REOPENED = "reopened"
    # Written by the alert dispatcher (no actor): nobody acknowledged an urgent tip in time, or
    # an announcement could not be delivered at all.
    ESCALATED = "escalated"
    ALERT_FAILED = "alert_failed"
    # The anonymous follow-up (tipline.followup): a reply the traveler reads, and the
    # traveler's own addition (no actor; the text is sealed in tip_message, never here).
    REPLIED = "replied"
    TRAVELER_ADDED = "traveler_added"
    # A hand-off packet was made for a partner (referred_to holds whom).
    HANDOFF = "handoff"


class TipEvent(Base):
    """One entry of a tip's timeline: who did what, when, and why."""

    __tablename__ = "tip_event"
    __table_args__ = (Index("ix_tip_event_tip_id_at", "tip_id", "at"),)

    id: Mapped[intpk]
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"))
    kind: Mapped[EventKind] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    at: Mapped[datetime]
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    from_priority: Mapped[int | None] = mapped_column(Integer)
    to_priority: Mapped[int | None] = mapped_column(Integer)
    # What staff type is sealed at rest like the traveler's words (tipline.sealing): notes and
    # reasons often restate them. The forms bound each length (the sealed value is longer).
    reason: Mapped[str | None] = mapped_column(Sealed("tip_event.reason"))
    # internal notes: staff text, never alerted
    note: Mapped[str | None] = mapped_column(Sealed("tip_event.note"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    referred_to: Mapped[str | None] = mapped_column(Sealed("tip_event.referred_to"))
    referral_ref: Mapped[str | None] = mapped_column(Sealed("tip_event.referral_ref"))
    resolution: Mapped[str | None] = mapped_column(String(16))
    # A plain number, not a foreign key: the timeline keeps it after the other tip is purged.
    duplicate_of_id: Mapped[int | None]

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])


class ChannelKind(enum.StrEnum):
    """How an on-call channel is reached."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class ChannelTier(enum.StrEnum):
    """When a channel hears a tip: at once, or once nobody has acknowledged it in time."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


class OnCallChannel(Base):
    """Where a jurisdiction's urgent tips are announced. "national"'s channels hear tips routed
    to national, every tip whose jurisdictions have no primary channel, and every escalation."""

    __tablename__ = "oncall_channel"
    __table_args__ = (
        UniqueConstraint("jurisdiction", "kind", "target"),
        CheckConstraint("kind IN ('email', 'webhook')", name="kind_known"),
        CheckConstraint("tier IN ('primary', 'secondary')", name="tier_known"),
    )

    id: Mapped[intpk]
    jurisdiction: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[ChannelKind] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(500))  # an email address or an https URL
    tier: Mapped[ChannelTier] = mapped_column(String(16), default=ChannelTier.PRIMARY)
    created_at: Mapped[datetime]
    # Removed channels stay as rows so each tip's alert history keeps naming where it went.
    removed_at: Mapped[datetime | None]


class AlertStatus(enum.StrEnum):
    """An outbox row's state."""

    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by one dispatcher until claimed_until
    SENT = "sent"
    CANCELLED = "cancelled"  # someone acted on the tip first (cancelled_reason says what)
    FAILED = "failed"  # gave up after the last attempt


class Alert(Base):
    """One announcement of one urgent tip on one channel at one escalation step: the outbox.

    Step 0 is the first announcement; step n is sent n escalation intervals after the tip
    arrived if nobody has acknowledged it by then. At most one row per (tip, channel, step).
    """

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("tip_id", "channel_id", "step"),
        Index("ix_alert_status_next_attempt_at", "status", "next_attempt_at"),
        CheckConstraint("step >= 0", name="step_natural"),
    )

    id: Mapped[intpk]
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("oncall_channel.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int] = mapped_column(default=0)
    status: Mapped[AlertStatus] = mapped_column(String(16), default=AlertStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    cancelled_reason: Mapped[str | None] = mapped_column(String(200))

    channel: Mapped[OnCallChannel] = relationship()


class AlertEscalation(Base):
    """An urgent tip reached escalation step `step` unacknowledged: written once per step, by
    whichever dispatcher gets there first, which also puts it on the timeline."""

    __tablename__ = "alert_escalation"
    __table_args__ = (CheckConstraint("step >= 1", name="step_positive"),)

    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]


class QueueEntry(Base):
    """A tip's queue sort keys once per jurisdiction, so each jurisdiction's queue is one index
    range. Written only by database triggers (migration 0003), never by the application."""

    __tablename__ = "queue_entry"
    __table_args__ = (
        Index("ix_queue_entry_order", "code", "is_closed", "priority", "received_at", "tip_id"),
        Index("ix_queue_entry_status", "code", "status", "priority", "received_at", "tip_id"),
    )

    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    is_closed: Mapped[bool]
    priority: Mapped[int]
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
