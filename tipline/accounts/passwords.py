"""Password rules and Argon2 hashing."""

from __future__ import annotations

import contextlib
import functools
import string
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tipline.accounts.models import User

MIN_LENGTH = 12
# Argon2 hashes whatever it is given; a cap keeps one request from costing a lot of CPU.
MAX_LENGTH = 256
# Fewer distinct characters than this is a pattern, not a password ("aaaaaaaaaaaa", "abababab").
MIN_DISTINCT = 5
COMMON_LIST = Path(__file__).with_name("common_passwords.txt")

# argon2-cffi's defaults (Argon2id, RFC 9106 "low memory": t=3, m=64 MiB, p=4); when they
# change in a later release, stored hashes are upgraded at the next sign-in.
hasher = PasswordHasher()


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of the 10,000 most common passwords, lower-cased."""
    lines = COMMON_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def password_problem(password: str, email: str) -> str | None:
    """Why `password` is not acceptable for `email`, or None when it is."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    local = email.split("@", 1)[0].lower()
    if len(local) >= 3 and local in lowered:
        return "Do not use your email address in the password."
    if len(set(lowered)) < MIN_DISTINCT:
        return "That password is too repetitive; try a few unrelated words."
    # "Password2024!" is as weak as "password": judge the word without digits and symbols
    # stuck on either end.
    trim = string.digits + string.punctuation + " "
    candidates = {lowered, lowered.strip(trim), lowered.rstrip(trim), lowered.lstrip(trim)}
    common = common_passwords()
    if any(c in common for c in candidates if c) or _repeats_common(lowered, common):
        return "That password is too common; try a few unrelated words."
    return None


def _repeats_common(lowered: str, common: frozenset[str]) -> bool:
    """True for a common password written twice or more ("qwertyqwerty")."""
    for size in range(1, len(lowered) // 2 + 1):
        unit = lowered[:size]
        if len(lowered) % size == 0 and unit * (len(lowered) // size) == lowered:
            return unit in common
    return False


def hash_password(password: str) -> str:
    """An Argon2id hash of `password`."""
    return hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """True when `password` is `user`'s; upgrades the stored hash if the parameters changed."""
    if user is None or user.password_hash is None:
        _spend_time(password)
        return False
    if len(password) > MAX_LENGTH:
        _spend_time("")
        return False
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


@functools.cache
def _dummy_hash() -> str:
    return hasher.hash("tipline: no such account; this hash only spends time")


def _spend_time(password: str) -> None:
    # A wrong email must take as long as a wrong password, or timing tells which emails exist.
    with contextlib.suppress(VerificationError):
        hasher.verify(_dummy_hash(), password[:MAX_LENGTH])
