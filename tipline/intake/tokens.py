"""The traveler's form token: signed, valid for two hours, and the tip's idempotency key."""

from __future__ import annotations

import secrets
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "tipline.intake.form-token"
MAX_AGE_SECONDS = 2 * 3600  # long enough to type on a slow phone, short enough to bound replays
MAX_SIGNED_LENGTH = 200  # a minted token is about 70 characters; longer is not worth decoding


class InvalidToken(ValueError):
    """The token was forged, damaged or is older than its time limit."""


@lru_cache(maxsize=4)
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def mint(secret: str) -> str:
    """A fresh signed token wrapping a random nonce (nothing about the traveler)."""
    return _serializer(secret).dumps(secrets.token_urlsafe(16))


def read(secret: str, signed: str, max_age: int = MAX_AGE_SECONDS) -> str:
    """The nonce inside a signed token; raise InvalidToken if it is bad or expired."""
    if len(signed) > MAX_SIGNED_LENGTH:
        raise InvalidToken("too long")
    try:
        nonce = _serializer(secret).loads(signed, max_age=max_age)
    except BadSignature as exc:  # SignatureExpired is a BadSignature
        raise InvalidToken(str(exc)) from exc
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
        raise InvalidToken("malformed nonce")
    return nonce
