"""Staff accounts: create, find, list, change, disable, enable and reset; every change audited
and ending the user's open sessions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


class BeyondScope(AccountError):
    """An admin tried to grant, or to manage someone, beyond their own jurisdictions."""


class LastNationalAdmin(AccountError):
    """The change would leave no active national admin (nobody could manage the desk)."""


def may_manage(actor: User | None, user: User) -> bool:
    """True when `actor` may change `user`: the command line (None) and national admins may
    change anyone; a state admin only staff whose every jurisdiction is one of their own."""
    if actor is None or actor.is_national:
        return True
    return user.jurisdiction_codes() <= actor.jurisdiction_codes()


def grantable(actor: User | None) -> list[str] | None:
    """The jurisdictions `actor` may hand out, in order; None when any (national, the CLI)."""
    if actor is None or actor.is_national:
        return None
    return sorted(actor.jurisdiction_codes())


def _check_grant(actor: User | None, codes: Iterable[str]) -> None:
    # An admin hands out only what they hold themselves: a state admin can never mint a
    # national account or one for a neighbour state, so scope never grows by delegation.
    allowed = grantable(actor)
    beyond = sorted(set(codes) - set(allowed)) if allowed is not None else []
    if beyond:
        raise BeyondScope(f"you may not grant {', '.join(beyond)}: it is beyond your scope")


def _check_manage(actor: User | None, user: User) -> None:
    if not may_manage(actor, user):
        raise BeyondScope(f"{user.email} works beyond your jurisdictions")


def _is_national_admin(user: User) -> bool:
    return user.active and user.role is Role.ADMIN and user.is_national


def _check_not_last_national_admin(session: Session, user: User, *, set_up: bool = False) -> None:
    """Refuse when `user` is the only active national admin (called before they stop being one);
    with `set_up`, only other national admins who have set up their sign-in count."""
    if not _is_national_admin(user):
        return
    query = (
        select(User.id)
        .join(UserJurisdiction)
        .where(
            User.id != user.id,
            User.active.is_(True),
            User.role == Role.ADMIN,
            UserJurisdiction.code == regions.NATIONAL,
        )
        .limit(1)
    )
    if set_up:
        query = query.where(
            User.password_hash.is_not(None),
            User.totp_secret.is_not(None),
            User.setup_token_hash.is_(None),
        )
    others = session.scalar(query)
    if others is None:
        raise LastNationalAdmin(
            f"{user.email} is the last active national admin: make another national admin first"
        )


def _unseen(char: str) -> bool:
    """A control, format (zero-width, direction marks), separator or other space character:
    invisible or blank on screen, so an address holding one looks like another account's."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def normalize_email(email: str) -> str:
    """NFKC-normalised, trimmed and lower-cased; raises InvalidEmail when it is not shaped like
    an address or holds an invisible or space character (every path to an account comes here:
    the web invite, the command line, sign-in and look-ups)."""
    cleaned = unicodedata.normalize("NFKC", email).strip().lower()
    unseen = sorted({f"U+{ord(c):04X}" for c in cleaned if _unseen(c)})
    if unseen:
        raise InvalidEmail(
            f"the email holds invisible or space characters ({', '.join(unseen)}): "
            "type the address again by hand"
        )
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
    _check_grant(actor, codes)
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
    _check_manage(actor, user)
    _check_not_last_national_admin(session, user)
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
    _check_manage(actor, user)
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
    _check_manage(actor, user)
    before = {"role": user.role.value, "jurisdictions": sorted(user.jurisdiction_codes())}
    new_codes = regions.normalize(jurisdiction_codes) if jurisdiction_codes is not None else None
    if new_codes is not None:
        _check_grant(actor, new_codes)
    stays_national_admin = (role is None or Role(role) is Role.ADMIN) and (
        new_codes is None or regions.NATIONAL in new_codes
    )
    if not stays_national_admin:
        _check_not_last_national_admin(session, user)
    if role is not None:
        user.role = Role(role)
    if new_codes is not None:
        codes = new_codes
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


def set_timezone(session: Session, *, user: User, timezone: str | None, now: datetime) -> None:
    """Set the zone `user` works in (a preference: their sessions stay open); audited."""
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise AccountError(f"not a time zone: {timezone!r}") from None
    user.timezone = timezone or None
    record(
        session,
        action="user.timezone",
        actor=user,
        now=now,
        target=f"user:{user.id}",
        detail={"timezone": user.timezone},
    )


def reset_user(session: Session, *, user: User, actor: User | None, now: datetime) -> str:
    """Clear password and authenticator, end every session; returns a new set-up token.

    Refused for the last active national admin (themselves or by the command line): until the
    new link is used nobody could manage national staff. One still waiting for set-up may be
    given a fresh link (the demo does this when the first one is lost)."""
    _check_manage(actor, user)
    if user.password_hash is not None and user.totp_secret is not None:
        _check_not_last_national_admin(session, user, set_up=True)
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
