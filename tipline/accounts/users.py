"""Staff accounts: create, find, list, change, disable, enable and reset; every change audited
and ending the user's open sessions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.accounts import sessions
from tipline.accounts.audit import record
from tipline.accounts.errors import AccountError
from tipline.accounts.models import Role, User, UserJurisdiction
from tipline.accounts.setup import issue_setup_token
from tipline.locations import regions

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidEmail(AccountError):
    """Not an email address."""


class UserExists(AccountError):
    """An account with this email exists already."""


class UnknownUser(AccountError):
    """No account with this email."""


def normalize_email(email: str) -> str:
    """Trimmed and lower-cased; raises InvalidEmail when it is not shaped like an address."""
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 254:
        raise InvalidEmail(f"not an email address: {email!r}")
    return cleaned


def find_user(session: Session, email: str) -> User | None:
    """The account with this email, or None."""
    try:
        cleaned = normalize_email(email)
    except InvalidEmail:
        return None
    return session.scalar(select(User).where(User.email == cleaned))


def get_user(session: Session, email: str) -> User:
    """The account with this email; raises UnknownUser."""
    user = find_user(session, email)
    if user is None:
        raise UnknownUser(f"no staff user with email {email!r}")
    return user


def list_users(session: Session, *, within: Iterable[str] | None = None) -> Sequence[User]:
    """Every account by email; with `within`, only those sharing one of these jurisdictions
    (a state admin sees their own staff; pass None for national)."""
    query = select(User).order_by(User.email)
    if within is not None:
        codes = sorted(set(within))
        query = query.where(
            User.id.in_(select(UserJurisdiction.user_id).where(UserJurisdiction.code.in_(codes)))
        )
    return session.scalars(query).all()


def user_state(user: User, *, locked: bool = False) -> str:
    """One word for the account's state: disabled, setup (link pending), locked or active."""
    if not user.active:
        return "disabled"
    if user.password_hash is None or user.totp_secret is None or user.setup_token_hash:
        return "setup"
    return "locked" if locked else "active"


def create_user(
    session: Session,
    *,
    email: str,
    role: Role,
    jurisdiction_codes: Iterable[str],
    actor: User | None,
    now: datetime,
) -> tuple[User, str]:
    """A new account waiting for set-up, and the one-time set-up token (shown once)."""
    cleaned = normalize_email(email)
    codes = regions.normalize(jurisdiction_codes)
    if find_user(session, cleaned) is not None:
        raise UserExists(f"a staff user with email {cleaned} exists already")
    user = User(email=cleaned, role=Role(role), active=True, created_at=now, session_version=0)
    user.jurisdictions = [UserJurisdiction(code=c) for c in codes]
    session.add(user)
    token = issue_setup_token(user, now)
    session.flush()
    record(
        session,
        action="user.create",
        actor=actor,
        now=now,
        target=f"user:{user.id}",
        detail={"email": cleaned, "role": user.role.value, "jurisdictions": codes},
    )
    return user, token


def disable_user(session: Session, *, user: User, actor: User | None, now: datetime) -> None:
    """Stop `user` signing in, and end every session they have open."""
    user.active = False
    ended = sessions.end_all(session, user=user, now=now, reason=sessions.Reason.DISABLED)
    record(
        session,
        action="user.disable",
        actor=actor,
        now=now,
        target=f"user:{user.id}",
        detail={"email": user.email, "sessions_ended": ended},
    )


def enable_user(session: Session, *, user: User, actor: User | None, now: datetime) -> None:
    """Let a disabled `user` sign in again (with their existing password and authenticator)."""
    user.active = True
    session.flush()
    record(
        session,
        action="user.enable",
        actor=actor,
        now=now,
        target=f"user:{user.id}",
        detail={"email": user.email},
    )


def change_user(
    session: Session,
    *,
    user: User,
    role: Role | None,
    jurisdiction_codes: Iterable[str] | None,
    actor: User | None,
    now: datetime,
) -> None:
    """Change `user`'s role and/or jurisdictions; their open sessions end so the change bites."""
    before = {"role": user.role.value, "jurisdictions": sorted(user.jurisdiction_codes())}
    if role is not None:
        user.role = Role(role)
    if jurisdiction_codes is not None:
        codes = regions.normalize(jurisdiction_codes)
        # Replace the collection whole: the delete-orphan cascade removes the old rows first.
        user.jurisdictions = []
        session.flush()
        user.jurisdictions = [UserJurisdiction(code=c) for c in codes]
    after = {"role": user.role.value, "jurisdictions": sorted(user.jurisdiction_codes())}
    if after == before:
        return
    ended = sessions.end_all(session, user=user, now=now, reason=sessions.Reason.CHANGED)
    record(
        session,
        action="user.update",
        actor=actor,
        now=now,
        target=f"user:{user.id}",
        detail={"email": user.email, "before": before, "after": after, "sessions_ended": ended},
    )


def reset_user(session: Session, *, user: User, actor: User | None, now: datetime) -> str:
    """Clear password and authenticator, end every session; returns a new set-up token."""
    user.password_hash = None
    user.totp_secret = None
    user.totp_last_step = None
    token = issue_setup_token(user, now)
    ended = sessions.end_all(session, user=user, now=now, reason=sessions.Reason.RESET)
    record(
        session,
        action="user.reset",
        actor=actor,
        now=now,
        target=f"user:{user.id}",
        detail={"email": user.email, "sessions_ended": ended},
    )
    return token
