"""Staff accounts: creating and disabling users, set-up links, and the two sign-in steps."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.accounts import passwords, totp
from tipline.accounts.audit import record
from tipline.accounts.models import Role, User, UserJurisdiction
from tipline.accounts.throttle import Throttle
from tipline.config import Settings
from tipline.locations import regions

SETUP_VALID = timedelta(hours=72)
SETUP_PATH = "/staff/setup/"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(Exception):
    """Base of this module's errors; the message is safe to show."""


class InvalidEmail(AccountError):
    """Not an email address."""


class UserExists(AccountError):
    """An account with this email exists already."""


class UnknownUser(AccountError):
    """No account with this email."""


class SetupLinkInvalid(AccountError):
    """The set-up link is unknown, used or expired."""


class WeakPassword(AccountError):
    """The chosen password breaks a rule; the message says which."""


class InvalidCode(AccountError):
    """The authenticator code is wrong, stale or already used."""


class SignInFailed(AccountError):
    """Wrong email, password or code; deliberately does not say which."""


class TooManyAttempts(AccountError):
    """Locked out for a while, per account or per client."""

    def __init__(self, remaining: timedelta, *, per_client: bool = False) -> None:
        self.remaining = remaining
        self.per_client = per_client
        minutes = max(1, -(-int(remaining.total_seconds()) // 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many attempts. Try again in {minutes} {unit}.")


@dataclass(frozen=True)
class Limits:
    """Sign-in throttling thresholds."""

    account_failures: int = 5
    account_lock: timedelta = timedelta(minutes=15)
    client_failures: int = 20
    client_window: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The TIPLINE_SIGNIN_* settings."""
        return cls(
            account_failures=settings.signin_max_failures,
            account_lock=timedelta(minutes=settings.signin_lock_minutes),
            client_failures=settings.signin_client_max_failures,
            client_window=timedelta(minutes=settings.signin_client_window_minutes),
        )


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


def list_users(session: Session) -> Sequence[User]:
    """Every account, by email."""
    return session.scalars(select(User).order_by(User.email)).all()


def user_state(user: User, now: datetime) -> str:
    """One word for the account's state: disabled, setup (link pending), locked or active."""
    if not user.active:
        return "disabled"
    if user.password_hash is None or user.totp_secret is None or user.setup_token_hash:
        return "setup"
    if user.locked_until is not None and user.locked_until > now:
        return "locked"
    return "active"


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
    user = User(
        email=cleaned,
        role=Role(role),
        active=True,
        created_at=now,
        failed_logins=0,
        session_version=0,
    )
    user.jurisdictions = [UserJurisdiction(code=c) for c in codes]
    session.add(user)
    token = _new_setup_token(user, now)
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
    user.session_version += 1
    record(
        session,
        action="user.disable",
        actor=actor,
        now=now,
        target=f"user:{user.id}",
        detail={"email": user.email},
    )


def enable_user(session: Session, *, user: User, actor: User | None, now: datetime) -> None:
    """Let a disabled `user` sign in again (with their existing password and authenticator)."""
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
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
    user.session_version += 1
    session.flush()
    record(
        session,
        action="user.update",
        actor=actor,
        now=now,
        target=f"user:{user.id}",
        detail={"email": user.email, "before": before, "after": after},
    )


def reset_user(session: Session, *, user: User, actor: User | None, now: datetime) -> str:
    """Clear password and authenticator, end every session; returns a new set-up token."""
    user.password_hash = None
    user.totp_secret = None
    user.totp_last_step = None
    user.failed_logins = 0
    user.locked_until = None
    user.session_version += 1
    token = _new_setup_token(user, now)
    record(
        session,
        action="user.reset",
        actor=actor,
        now=now,
        target=f"user:{user.id}",
        detail={"email": user.email},
    )
    return token


def setup_url(public_url: str, token: str) -> str:
    """The link a new user opens to choose a password and enrol an authenticator."""
    return f"{public_url.rstrip('/')}{SETUP_PATH}{token}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_setup_token(user: User, now: datetime) -> str:
    # Only the hash is stored: a copy of the database cannot be used to take over an account.
    token = secrets.token_urlsafe(32)
    user.setup_token_hash = _token_hash(token)
    user.setup_expires_at = now + SETUP_VALID
    return token


def user_for_setup(session: Session, token: str, now: datetime) -> User:
    """The account this set-up token belongs to; raises SetupLinkInvalid."""
    user = session.scalar(select(User).where(User.setup_token_hash == _token_hash(token)))
    if (
        user is None
        or not user.active
        or user.setup_expires_at is None
        or user.setup_expires_at <= now
    ):
        raise SetupLinkInvalid(
            "This set-up link is not valid: it may have been used already or have expired "
            "(links last 72 hours). Ask an administrator for a new one."
        )
    return user


def enrolment_secret(user: User) -> str:
    """The TOTP secret being enrolled, created on first sight of the set-up page."""
    # Kept across reloads of the page, so a QR code scanned a minute ago stays good. The
    # account cannot sign in until set-up completes, so a half-enrolled secret grants nothing.
    if user.totp_secret is None:
        user.totp_secret = totp.new_secret()
        user.totp_last_step = None
    return user.totp_secret


def complete_setup(
    session: Session, *, user: User, password: str, code: str, now: datetime
) -> None:
    """Set the password and confirm the authenticator; the set-up link is then spent."""
    problem = passwords.password_problem(password, user.email)
    if problem:
        raise WeakPassword(problem)
    if user.totp_secret is None or not totp.verify(user, code, now):
        raise InvalidCode("That code did not match. Check the time on your phone and try again.")
    user.password_hash = passwords.hash_password(password)
    user.setup_token_hash = None
    user.setup_expires_at = None
    user.failed_logins = 0
    user.locked_until = None
    user.session_version += 1
    record(session, action="user.setup", actor=user, now=now, target=f"user:{user.id}")


def check_password(
    session: Session,
    *,
    email: str,
    password: str,
    client: str,
    now: datetime,
    throttle: Throttle,
    limits: Limits,
) -> User:
    """Sign-in step one. Raises SignInFailed or TooManyAttempts; every failure is audited."""
    _refuse_throttled_client(throttle, client, now)
    user = find_user(session, email)
    if user is None or not user.active or user.password_hash is None:
        # An unknown, disabled or unfinished account behaves exactly like a wrong password,
        # lockout included (counted in memory), so the page never tells who has an account.
        key = email.strip().lower()
        remaining = throttle.locked_for("email", key, now)
        if remaining is not None:
            _fail(session, user, now, "locked", step="password")
            raise TooManyAttempts(remaining)
        passwords.verify_password(None, password)
        lock = throttle.fail(
            "email",
            key,
            now,
            limit=limits.account_failures,
            window=timedelta(days=1),
            lock=limits.account_lock,
        )
        reason = "unknown account" if user is None else "account not usable"
        _fail(session, user, now, reason, step="password")
        _count_client(throttle, client, now, limits)
        raise TooManyAttempts(lock) if lock else SignInFailed()
    _refuse_locked_account(session, user, now)
    if not passwords.verify_password(user, password):
        _account_failure(session, user, now, limits, "wrong password", step="password")
        _count_client(throttle, client, now, limits)
        _raise_failure(user, now)
    return user


def check_code(
    session: Session,
    *,
    user: User,
    code: str,
    client: str,
    now: datetime,
    throttle: Throttle,
    limits: Limits,
) -> None:
    """Sign-in step two, after a correct password: the authenticator code."""
    _refuse_throttled_client(throttle, client, now)
    _refuse_locked_account(session, user, now)
    if not user.active or not totp.verify(user, code, now):
        _account_failure(session, user, now, limits, "wrong code", step="code")
        _count_client(throttle, client, now, limits)
        _raise_failure(user, now)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    record(session, action="signin.success", actor=user, now=now, target=f"user:{user.id}")


def _refuse_throttled_client(throttle: Throttle, client: str, now: datetime) -> None:
    remaining = throttle.locked_for("client", client, now)
    if remaining is not None:
        raise TooManyAttempts(remaining, per_client=True)


def _count_client(throttle: Throttle, client: str, now: datetime, limits: Limits) -> None:
    lock = throttle.fail(
        "client",
        client,
        now,
        limit=limits.client_failures,
        window=limits.client_window,
        lock=limits.client_window,
    )
    if lock is not None:
        raise TooManyAttempts(lock, per_client=True)


def _refuse_locked_account(session: Session, user: User, now: datetime) -> None:
    if user.locked_until is not None and user.locked_until > now:
        _fail(session, user, now, "locked", step="any")
        raise TooManyAttempts(user.locked_until - now)


def _account_failure(
    session: Session, user: User, now: datetime, limits: Limits, reason: str, *, step: str
) -> None:
    user.failed_logins += 1
    if user.failed_logins >= limits.account_failures:
        user.failed_logins = 0
        user.locked_until = now + limits.account_lock
        reason += "; account locked"
    _fail(session, user, now, reason, step=step)


def _raise_failure(user: User, now: datetime) -> NoReturn:
    if user.locked_until is not None and user.locked_until > now:
        raise TooManyAttempts(user.locked_until - now)
    raise SignInFailed()


def _fail(session: Session, user: User | None, now: datetime, reason: str, *, step: str) -> None:
    record(
        session,
        action="signin.failure",
        actor=None,
        now=now,
        target=f"user:{user.id}" if user is not None else None,
        outcome="failed",
        detail={"step": step, "reason": reason, **({"email": user.email} if user else {})},
    )
