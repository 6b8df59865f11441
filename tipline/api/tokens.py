"""Creating, listing, revoking and checking partner API tokens (every change audited)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.accounts.audit import record
from tipline.api.models import ApiToken
from tipline.locations import regions

PREFIX = "tl_"
# last_used_at is written at most this often: every read is audited anyway, and a write per
# request would serialise the API on SQLite for nothing.
TOUCH_EVERY = timedelta(minutes=1)


class TokenError(Exception):
    """A token command was refused; the message says why."""


class TokenExists(TokenError):
    """A token with this name exists already (names are how tokens are revoked)."""


class UnknownToken(TokenError):
    """No token with this name."""


class InvalidToken(TokenError):
    """The bearer token is missing, unknown or revoked."""


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(
    session: Session, *, name: str, jurisdiction_codes: Iterable[str], now: datetime
) -> tuple[ApiToken, str]:
    """A new token scoped to these jurisdictions, and its secret (shown once, stored hashed)."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 100:
        raise TokenError("a token's name is 1 to 100 characters")
    codes = regions.normalize(jurisdiction_codes)
    if session.scalar(select(ApiToken.id).where(ApiToken.name == cleaned)) is not None:
        raise TokenExists(f"a token named {cleaned!r} exists already")
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=cleaned, token_hash=_hash(raw), jurisdictions=codes, created_at=now)
    session.add(token)
    session.flush()
    record(
        session,
        action="api_token.create",
        actor=None,
        now=now,
        target=f"api_token:{token.id}",
        detail={"name": cleaned, "jurisdictions": codes},
    )
    return token, raw


def list_tokens(session: Session) -> Sequence[ApiToken]:
    """Every token, revoked ones included, by name."""
    return session.scalars(select(ApiToken).order_by(ApiToken.name)).all()


def revoke_token(session: Session, *, name: str, now: datetime) -> ApiToken:
    """Stop the token named `name` working at once."""
    token = session.scalar(select(ApiToken).where(ApiToken.name == name.strip()))
    if token is None:
        raise UnknownToken(f"no API token named {name!r}")
    if token.revoked_at is None:
        token.revoked_at = now
        record(
            session,
            action="api_token.revoke",
            actor=None,
            now=now,
            target=f"api_token:{token.id}",
            detail={"name": token.name},
        )
    return token


def authenticate(session: Session, raw: str | None, *, now: datetime) -> ApiToken:
    """The active token this bearer secret belongs to; raises InvalidToken."""
    if not raw or not raw.startswith(PREFIX) or len(raw) > 200:
        raise InvalidToken("a valid bearer token is required")
    digest = _hash(raw)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # The lookup is by hash, so timing tells nothing about the secret; compare anyway.
    if token is None or not hmac.compare_digest(token.token_hash, digest) or not token.active:
        raise InvalidToken("a valid bearer token is required")
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        token.last_used_at = now
    return token
