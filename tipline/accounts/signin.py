"""Signing in (password, then authenticator code), throttling and lockout, signing out.

Throttling lives in the shared limiter (Redis when configured, so every worker and machine counts
together), keyed by salted fingerprints, never by an address or an email:

- per client: at most `client.count` failed attempts from one address in a window that opens at
  its first failure and closes exactly `client.seconds` later;
- per email typed: `account.count` failures (password or code) within a day lock it for
  exactly `lock_seconds`.

The per-email lock works the same for every string typed, whether or not an account has it, so
neither the answers nor their timing tell who is staff. Each attempt reserves its place in both
budgets before it is judged, so concurrent attempts (several workers at once) can never get more
judgements than the settings allow; a success gives its reservation back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tipline.accounts import passwords, sessions, totp
from tipline.accounts.audit import record
from tipline.accounts.errors import AccountError
from tipline.accounts.models import User
from tipline.accounts.users import find_user
from tipline.config import Rate, Settings
from tipline.limiter import Limiter, LimiterUnavailable

log = logging.getLogger(__name__)

# Failures of one email are counted over a day; reaching the setting locks it.
FAILURE_WINDOW = timedelta(days=1)


class SignInFailed(AccountError):
    """Wrong email, password or code; deliberately does not say which."""


class TooManyAttempts(AccountError):
    """Locked out for a while, per email or per client; says when to try again."""

    def __init__(self, seconds: float, *, per_client: bool = False) -> None:
        self.seconds = seconds
        self.per_client = per_client
        minutes = max(1, -(-int(seconds) // 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many attempts. Try again in {minutes} {unit}.")


@dataclass(frozen=True)
class Throttle:
    """The limiter and the TIPLINE_SIGNIN_* thresholds."""

    limiter: Limiter
    account: Rate
    lock_seconds: float
    client: Rate

    @classmethod
    def from_settings(cls, limiter: Limiter, settings: Settings) -> Throttle:
        """Thresholds from the settings."""
        return cls(
            limiter=limiter,
            account=Rate(settings.signin_max_failures, FAILURE_WINDOW.total_seconds()),
            lock_seconds=settings.signin_lock_minutes * 60,
            client=Rate(
                settings.signin_client_max_failures, settings.signin_client_window_minutes * 60
            ),
        )

    def _client_key(self, client: str) -> tuple[str, str]:
        return ("signin-client", self.limiter.fingerprint(client))

    def _email_key(self, email: str) -> tuple[str, str]:
        return ("signin-email", self.limiter.fingerprint(email.strip().lower()))

    def locked_for(self, email: str) -> float:
        """Seconds `email` stays locked; 0 when it may try."""
        try:
            return self.limiter.held(self.lock_seconds, *self._email_key(email))
        except LimiterUnavailable:
            return 0.0

    def unlock(self, email: str) -> None:
        """Lift `email`'s lock and forget its failures (an admin re-enabled or reset it)."""
        key = self._email_key(email)
        self.limiter.release(self.lock_seconds, *key)
        self.limiter.clear(self.account, *key, fixed=True)


@dataclass
class _Attempt:
    """The reservations one attempt holds, given back or turned into a lock when judged."""

    throttle: Throttle
    client_key: tuple[str, str]
    email_key: tuple[str, str]
    counted: bool = True  # False when the limiter was unreachable (fail-open)

    def succeeded(self, *, clear_email: bool) -> None:
        if not self.counted:
            return
        limiter = self.throttle.limiter
        try:
            limiter.refund(self.throttle.client, *self.client_key, fixed=True)
            if clear_email:
                limiter.clear(self.throttle.account, *self.email_key, fixed=True)
                limiter.release(self.throttle.lock_seconds, *self.email_key)
            else:
                limiter.refund(self.throttle.account, *self.email_key, fixed=True)
        except LimiterUnavailable:
            log.warning("sign-in limiter unreachable; a success was not credited back")

    def failed(self) -> TooManyAttempts | None:
        """After a wrong password or code: the lock this failure completes, if any."""
        if not self.counted:
            return None
        limiter, throttle = self.throttle.limiter, self.throttle
        try:
            if not limiter.peek(throttle.account, *self.email_key, fixed=True).allowed:
                seconds = limiter.hold(throttle.lock_seconds, *self.email_key)
                limiter.clear(throttle.account, *self.email_key, fixed=True)
                return TooManyAttempts(seconds)
            client = limiter.peek(throttle.client, *self.client_key, fixed=True)
        except LimiterUnavailable:
            return None
        return None if client.allowed else TooManyAttempts(client.retry_after, per_client=True)


def _reserve(
    session: Session,
    throttle: Throttle,
    *,
    client: str,
    email: str,
    now: datetime,
    user: User | None,
    step: str,
) -> _Attempt:
    """Count the attempt before judging it; raise TooManyAttempts when it may not be judged."""
    attempt = _Attempt(throttle, throttle._client_key(client), throttle._email_key(email))
    limiter = throttle.limiter
    try:
        verdict = limiter.hit(throttle.client, *attempt.client_key, fixed=True)
        if not verdict.allowed:
            raise TooManyAttempts(verdict.retry_after, per_client=True)
        locked = limiter.held(throttle.lock_seconds, *attempt.email_key)
        if not locked and not limiter.hit(throttle.account, *attempt.email_key, fixed=True).allowed:
            # Attempts in flight (other workers) hold the email's last places: lock it now,
            # so this answer can say when to come back.
            locked = limiter.hold(throttle.lock_seconds, *attempt.email_key)
    except LimiterUnavailable:
        # Fail open, on purpose: with Redis down, staff must still reach urgent tips. Every
        # sign-in still needs the password and a fresh code, and the outage is in the log.
        log.warning("sign-in limiter unreachable; attempts are not being counted")
        attempt.counted = False
        return attempt
    if locked:
        record_failure(session, user, now, "locked", step=step)
        raise TooManyAttempts(locked)
    return attempt


def check_password(
    session: Session, *, email: str, password: str, client: str, now: datetime, throttle: Throttle
) -> User:
    """Sign-in step one. Raises SignInFailed or TooManyAttempts; every failure is audited."""
    user = find_user(session, email)
    attempt = _reserve(
        session, throttle, client=client, email=email, now=now, user=user, step="password"
    )
    usable = user is not None and user.active and user.password_hash is not None
    # An unknown, disabled or unfinished account runs the same hash and the same counting as a
    # wrong password, so neither the page nor its timing tells who has an account.
    if usable and passwords.verify_password(user, password):
        assert user is not None
        attempt.succeeded(clear_email=False)
        return user
    if not usable:
        passwords.verify_password(None, password)
    reason = "wrong password" if usable else "account not usable"
    raise _refusal(
        session, attempt, user, now, "unknown account" if user is None else reason, step="password"
    )


def check_code(
    session: Session, *, user: User, code: str, client: str, now: datetime, throttle: Throttle
) -> str:
    """Sign-in step two, after a correct password: the code. Opens a session; returns its
    token (for the cookie). Raises SignInFailed or TooManyAttempts."""
    attempt = _reserve(
        session, throttle, client=client, email=user.email, now=now, user=user, step="code"
    )
    if not user.active or not totp.consume(session, user, code, now):
        raise _refusal(session, attempt, user, now, "wrong code", step="code")
    attempt.succeeded(clear_email=True)
    user.last_login_at = now
    token = sessions.start(session, user=user, now=now)
    record(session, action="signin.success", actor=user, now=now, target=f"user:{user.id}")
    return token


def sign_out(session: Session, *, user: User, session_id: int, now: datetime) -> None:
    """End this browser's session on the server; audited."""
    sessions.end(session, session_id, now=now, reason=sessions.Reason.SIGNOUT)
    record(session, action="signout", actor=user, now=now, target=f"user:{user.id}")


def _refusal(
    session: Session, attempt: _Attempt, user: User | None, now: datetime, reason: str, *, step: str
) -> AccountError:
    """Audit a failed attempt; the error to raise (a lock when this failure completes one)."""
    lock = attempt.failed()
    if lock is not None and not lock.per_client:
        reason += "; locked"
    record_failure(session, user, now, reason, step=step)
    return lock or SignInFailed()


def record_failure(
    session: Session,
    user: User | None,
    now: datetime,
    reason: str,
    *,
    step: str,
    extra: dict[str, str] | None = None,
) -> None:
    """Audit one refused sign-in (password, code or single sign-on step)."""
    record(
        session,
        action="signin.failure",
        actor=None,
        now=now,
        target=f"user:{user.id}" if user is not None else None,
        outcome="failed",
        detail={
            "step": step,
            **(extra or {}),
            "reason": reason,
            **({"email": user.email} if user else {}),
        },
    )
