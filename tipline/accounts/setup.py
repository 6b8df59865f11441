"""Setting an account up: the one-time link, choosing a password, enrolling the authenticator."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.accounts import passwords, sessions, totp
from tipline.accounts.audit import record
from tipline.accounts.errors import AccountError
from tipline.accounts.models import User

SETUP_VALID = timedelta(hours=72)
SETUP_PATH = "/staff/setup/"


class SetupLinkInvalid(AccountError):
    """The set-up link is unknown, used or expired."""


class WeakPassword(AccountError):
    """The chosen password breaks a rule; the message says which."""


class InvalidCode(AccountError):
    """The authenticator code is wrong, stale or already used."""


def setup_url(public_url: str, token: str) -> str:
    """The link a new user opens to choose a password and enrol an authenticator."""
    return f"{public_url.rstrip('/')}{SETUP_PATH}{token}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_setup_token(user: User, now: datetime) -> str:
    """A fresh one-time set-up token for `user` (valid SETUP_VALID); replaces any earlier one."""
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
    if user.totp_secret is None or not totp.consume(session, user, code, now):
        raise InvalidCode("That code did not match. Check the time on your phone and try again.")
    user.password_hash = passwords.hash_password(password)
    user.setup_token_hash = None
    user.setup_expires_at = None
    sessions.end_all(session, user=user, now=now, reason=sessions.Reason.SETUP)
    record(session, action="user.setup", actor=user, now=now, target=f"user:{user.id}")
