"""Server-side staff sessions: a random token in the cookie, its hash and state in the database.

A session ends on the server (sign-out, idle timeout, disable, role or jurisdiction change,
reset, set-up) and an ended one is refused for good, so a cookie saved earlier opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, joinedload

from tipline.accounts.models import StaffSession, User

# Ended sessions are kept a while (the audit log is the lasting record), then deleted.
KEEP_ENDED = timedelta(days=7)
# last_seen_at is written at most this often per session: a page view is a read, and writing on
# every one would serialise the desk on SQLite. The idle timeout is exact to within this.
TOUCH_EVERY = timedelta(seconds=60)


class Reason:
    """Why a session ended (stored in end_reason, shown to no one but admins)."""

    SIGNOUT = "signout"
    IDLE = "idle"
    DISABLED = "disabled"
    CHANGED = "changed"
    RESET = "reset"
    SETUP = "setup"


@dataclass(frozen=True)
class Found:
    """What a cookie's token stands for: the session and its user, or why it is refused."""

    session: StaffSession | None
    user: User | None
    refused: str | None = None  # a Reason, or "unknown"; None when the session is good

    @property
    def ok(self) -> bool:
        """True when the session may be used."""
        return self.refused is None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, *, user: User, now: datetime) -> str:
    """Open a session for `user`; returns the token for the cookie (only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    session.execute(
        delete(StaffSession).where(
            StaffSession.user_id == user.id,
            StaffSession.ended_at.is_not(None),
            StaffSession.ended_at < now - KEEP_ENDED,
        )
    )
    session.add(
        StaffSession(user_id=user.id, token_hash=_hash(token), created_at=now, last_seen_at=now)
    )
    session.flush()
    return token


def find(session: Session, token: str, *, now: datetime, idle: timedelta) -> Found:
    """The session behind `token`, checked: not ended, not idle, its user active and set up."""
    # populate_existing: a session object held from an earlier request (a long-lived session)
    # must not hide an end written since.
    found = session.scalars(
        select(StaffSession)
        .where(StaffSession.token_hash == _hash(token))
        .options(joinedload(StaffSession.user))
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        return Found(None, None, "unknown")
    if found.ended_at is not None:
        return Found(found, found.user, found.end_reason or "ended")
    if now - found.last_seen_at > idle:
        return Found(found, found.user, Reason.IDLE)
    user = found.user
    if not user.active or user.password_hash is None or user.totp_secret is None:
        return Found(found, user, Reason.DISABLED)
    return Found(found, user)


def needs_touch(found: StaffSession, now: datetime) -> bool:
    """True when last_seen_at is stale enough to be written."""
    return now - found.last_seen_at >= TOUCH_EVERY


def touch(session: Session, session_id: int, *, now: datetime) -> None:
    """Record activity on a session that is still open."""
    session.execute(
        update(StaffSession)
        .where(
            StaffSession.id == session_id,
            StaffSession.ended_at.is_(None),
            StaffSession.last_seen_at < now,
        )
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def end(session: Session, session_id: int, *, now: datetime, reason: str) -> bool:
    """End one session (if still open); True when this call ended it."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def end_all(session: Session, *, user: User, now: datetime, reason: str) -> int:
    """End every open session of `user` (a change to the account takes effect at once)."""
    # The version also stops a sign-in halfway (password given, code not yet).
    user.session_version += 1
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(getattr(result, "rowcount", 0))
