"""Staff users with roles and jurisdictions, their sign-in state, and the append-only audit log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.db import Base, intpk, utcnow
from tipline.locations.regions import NATIONAL


class Role(enum.StrEnum):
    """What a staff member may do: admins manage users and posters, triagers act, viewers read."""

    ADMIN = "admin"
    TRIAGER = "triager"
    VIEWER = "viewer"


class User(Base):
    """A staff member. Every role needs a password and a TOTP second factor."""

    __tablename__ = "staff_user"
    __table_args__ = (CheckConstraint("role IN ('admin', 'triager', 'viewer')", name="role_known"),)

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # Stored as the plain value ("admin"), loaded as a Role.
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            native_enum=False,
            create_constraint=False,
            length=16,
            values_callable=lambda roles: [r.value for r in roles],
        )
    )
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None until set-up
    totp_secret: Mapped[str | None] = mapped_column(String(64))  # None until enrolled
    # The last TOTP time-step accepted, so one code cannot be replayed within its window.
    totp_last_step: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # One-time set-up link: only a hash is kept; the link itself is printed once.
    setup_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    setup_expires_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # The zone the user works in (IANA name); times show in it beside the tip's own local time.
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Bumped when the account is disabled, reset, set up or changed: a half-finished sign-in
    # (password given, code not yet) started before the change cannot be completed.
    session_version: Mapped[int] = mapped_column(default=0)

    jurisdictions: Mapped[list[UserJurisdiction]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def jurisdiction_codes(self) -> set[str]:
        """The user's states/provinces, or {"national"}."""
        return {j.code for j in self.jurisdictions}

    @property
    def is_national(self) -> bool:
        """True when the user sees every jurisdiction."""
        return NATIONAL in self.jurisdiction_codes()


class UserJurisdiction(Base):
    """A state/province (or "national") a user works for."""

    __tablename__ = "staff_user_jurisdiction"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(16), primary_key=True)

    user: Mapped[User] = relationship(back_populates="jurisdictions")


class StaffSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is stored here, and a
    session ended here (sign-out, idle, disable, role change, reset) is refused for good."""

    __tablename__ = "staff_session"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))  # "signout", "idle", ...

    user: Mapped[User] = relationship()


class AuditEvent(Base):
    """One append-only audit record. The product offers no way to change or delete one.

    Each record is sealed: `hash` is an HMAC over its content and the previous record's hash
    (`prev_hash`), so rewriting, removing or inserting a record breaks the chain from there on
    (`tipline audit verify`). Ids are given by the chain (one more than the head), not the
    database, so they run without gaps.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    actor_email: Mapped[str | None] = mapped_column(String(254))  # kept if the user is renamed
    action: Mapped[str] = mapped_column(String(64), index=True)  # "signin.failure", "tip.view"
    target: Mapped[str | None] = mapped_column(String(128), index=True)  # "tip:42", "user:7"
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok | denied | failed
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship()


class AuditChain(Base):
    """The head of the audit chain: one row, moved forward by every append under a row lock.

    It serialises appenders (two writers never fork the chain) and anchors the end of the log,
    so removing the newest records, or all of them, is as visible as changing one.
    """

    __tablename__ = "audit_chain"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_id: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))
    # Which key sealed the chain (a hash of it), so verify can tell a wrong key from tampering.
    key_id: Mapped[str | None] = mapped_column(String(16))
    records: Mapped[int]
