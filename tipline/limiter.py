"""One limiter for tips, sign-in and receipt look-ups, built on the `limits` package.

Counters live in Redis when TIPLINE_REDIS_URL is set, so every gunicorn worker and every machine
shares them; otherwise in this process's memory, which is exact for one process but lets each
worker of a multi-worker server count on its own.

Privacy (PRODUCT.md §6): a client address or an email never reaches a counter's key. Callers
pass `fingerprint(value)`, a keyed hash whose salt is random, lives only in memory or Redis (which
keeps nothing on disk in our deployments), and is replaced every SALT_SECONDS, after which no one
can tell which address a stale key stood for.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, SlidingWindowCounterRateLimiter

from tipline.config import Rate

log = logging.getLogger(__name__)
LIMITER = "tipline.limiter"

# The salt outlives any window we count in (the longest is an hour), so counters stay exact
# within a day; at each change every counter starts again from zero.
SALT_SECONDS = 24 * 3600
# A Redis that is down or unreachable must fail a hit within a second (callers then choose
# fail-open or fail-closed), never hold a request for the TCP timeout.
REDIS_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
# While Redis cannot give the shared salt, a worker hashes with its own salt and asks again
# after this many seconds: a fingerprint never fails, so every caller reaches its own
# fail-open (or fail-closed) choice on the hit that follows.
SALT_RETRY_SECONDS = 5.0
# After the shared storage fails, a process counts in its own memory for this long before asking
# the storage again, so a dead Redis costs one timeout per worker per period, not one per hit.
RETRY_SHARED_SECONDS = 15.0
T = TypeVar("T")


class LimiterUnavailable(RuntimeError):
    """The shared storage could not be reached."""


@dataclass(frozen=True)
class Verdict:
    """The answer to one hit: allowed or not, and when the next one would be."""

    allowed: bool
    retry_after: float = 0.0  # seconds until the window frees a slot (0 when allowed)


def _refused(rate: Rate, reset_time: float) -> Verdict:
    """A refusal that always names a wait between one second and the window."""
    # The sliding counter's reset estimate is `expires_in % expiry`, which is 0 when a window
    # was opened this very millisecond (a Redis TTL equal to the expiry); "retry in 0 s" would
    # invite an immediate, equally refused retry.
    return Verdict(False, min(max(1.0, reset_time - time.time()), max(1.0, rate.seconds)))


class Limiter:
    """Sliding-window counters keyed by plain strings, in Redis or in memory."""

    def __init__(self, redis_url: str | None = None, *, prefix: str = "tipline") -> None:
        self.shared = bool(redis_url)
        self.prefix = prefix
        self._storage: Storage = (
            storage_from_string(redis_url, **REDIS_TIMEOUTS) if redis_url else MemoryStorage()  # type: ignore[assignment]
        )
        self._strategy = SlidingWindowCounterRateLimiter(self._storage)
        # Holds (a lock for exactly N seconds) need a fixed expiry, not a sliding estimate.
        self._fixed = FixedWindowRateLimiter(self._storage)
        self._lock = threading.Lock()
        self._salt: bytes = secrets.token_bytes(32)
        self._salt_local = False  # True while Redis is down and this process's salt stands in
        # Shared storage: the first fingerprint fetches the salt every worker uses.
        self._salt_until = 0.0 if redis_url else time.monotonic() + SALT_SECONDS
        self._redis: Any = self._storage.get_connection() if redis_url else None  # type: ignore[attr-defined]

    # --- keys -----------------------------------------------------------------------------

    def fingerprint(self, value: str | None) -> str:
        """A keyed hash of an address or email, meaningless once the salt has changed."""
        digest = hmac.new(self._current_salt(), (value or "").encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def _current_salt(self) -> bytes:
        now = time.monotonic()
        with self._lock:
            if now < self._salt_until:
                return self._salt
            if self._redis is None:
                self._salt = secrets.token_bytes(32)
                self._salt_until = now + SALT_SECONDS
                return self._salt
        # Every worker must hash an address the same way, so the salt is shared through Redis:
        # the first worker to need one sets it (NX) with an expiry; the others read it.
        try:
            salt, ttl = self._shared_salt()
        except LimiterUnavailable as exc:
            with self._lock:
                # Redis is down (perhaps since before this worker started): hash with this
                # process's own salt for now; the counts themselves fail open or closed as
                # each caller decides, and the shared salt is fetched once Redis answers.
                if not self._salt_local:
                    log.warning("limiter salt unavailable, using a per-process one: %s", exc)
                self._salt_local = True
                self._salt_until = now + SALT_RETRY_SECONDS
                return self._salt
        with self._lock:
            self._salt_local = False
            self._salt = salt
            # Re-read well before it expires so no two workers hash with different salts long.
            self._salt_until = now + max(1.0, min(ttl, 300.0))
            return self._salt

    def _shared_salt(self) -> tuple[bytes, float]:
        key = f"{self.prefix}:limiter:salt"
        try:
            self._redis.set(key, secrets.token_hex(32), nx=True, ex=SALT_SECONDS)
            value, ttl = self._redis.get(key), self._redis.ttl(key)
        except Exception as exc:  # redis-py raises its own ConnectionError family
            raise LimiterUnavailable(str(exc)) from None
        text = value.decode() if isinstance(value, bytes) else str(value)
        return bytes.fromhex(text), float(ttl if ttl and ttl > 0 else 1)

    # --- counting -------------------------------------------------------------------------

    def _item(self, rate: Rate, fixed: bool = False) -> RateLimitItem:
        namespace = f"{self.prefix}-fixed" if fixed else self.prefix
        return RateLimitItemPerSecond(rate.count, max(1, round(rate.seconds)), namespace=namespace)

    def _pick(self, rate: Rate, fixed: bool) -> tuple[Any, RateLimitItem]:
        return (self._fixed if fixed else self._strategy), self._item(rate, fixed)

    def hit(self, rate: Rate, *key: str, fixed: bool = False) -> Verdict:
        """Count one event under `key` if `rate` allows it; an off rate always allows.

        The default sliding window smooths a burst at a window's edge. `fixed=True` counts in a
        window that opens at the first event and closes exactly `rate.seconds` later, so a
        budget is exact (never one over at an edge) and says exactly when it refills.
        """
        if rate.off:
            return Verdict(True)
        strategy, item = self._pick(rate, fixed)
        try:
            if strategy.hit(item, *key):
                return Verdict(True)
            stats = strategy.get_window_stats(item, *key)
        except LimiterUnavailable:
            raise
        except Exception as exc:
            raise LimiterUnavailable(str(exc)) from None
        return _refused(rate, stats.reset_time)

    def peek(self, rate: Rate, *key: str, fixed: bool = False) -> Verdict:
        """Whether one more event would be allowed, without counting it."""
        if rate.off:
            return Verdict(True)
        strategy, item = self._pick(rate, fixed)
        try:
            if strategy.test(item, *key):
                return Verdict(True)
            stats = strategy.get_window_stats(item, *key)
        except Exception as exc:
            raise LimiterUnavailable(str(exc)) from None
        return _refused(rate, stats.reset_time)

    def clear(self, rate: Rate, *key: str, fixed: bool = False) -> None:
        """Forget the counts under `key` (after a successful sign-in, say)."""
        if rate.off:
            return
        strategy, item = self._pick(rate, fixed)
        try:
            strategy.clear(item, *key)
        except Exception as exc:
            raise LimiterUnavailable(str(exc)) from None

    def refund(self, rate: Rate, *key: str, fixed: bool = False) -> None:
        """Give back one event counted by `hit` (a reservation that turned out not to count)."""
        if rate.off:
            return
        strategy, item = self._pick(rate, fixed)
        try:
            # Never below zero: a refund after the window closed must not become a credit.
            if strategy.get_window_stats(item, *key).remaining < item.amount:
                strategy.hit(item, *key, cost=-1)
        except Exception as exc:
            raise LimiterUnavailable(str(exc)) from None

    # --- holds: a flag under a key for an exact number of seconds (a lockout) -------------

    def _hold_item(self, seconds: float) -> RateLimitItem:
        return RateLimitItemPerSecond(1, max(1, round(seconds)), namespace=f"{self.prefix}-hold")

    def hold(self, seconds: float, *key: str) -> float:
        """Raise the flag under `key` for `seconds` (kept if already up); seconds it has left."""
        item = self._hold_item(seconds)
        try:
            self._fixed.hit(item, *key)
            stats = self._fixed.get_window_stats(item, *key)
        except Exception as exc:
            raise LimiterUnavailable(str(exc)) from None
        return max(0.0, stats.reset_time - time.time())

    def held(self, seconds: float, *key: str) -> float:
        """Seconds the flag under `key` (raised with these `seconds`) stays up; 0 when down."""
        item = self._hold_item(seconds)
        try:
            stats = self._fixed.get_window_stats(item, *key)
        except Exception as exc:
            raise LimiterUnavailable(str(exc)) from None
        return max(0.0, stats.reset_time - time.time()) if stats.remaining <= 0 else 0.0

    def release(self, seconds: float, *key: str) -> None:
        """Lower the flag under `key`."""
        try:
            self._fixed.clear(self._hold_item(seconds), *key)
        except Exception as exc:
            raise LimiterUnavailable(str(exc)) from None

    def ping(self) -> bool:
        """True when the storage answers (always, in memory)."""
        try:
            return bool(self._storage.check())
        except Exception:
            return False


class FailOpen:
    """Runs a counting step on the shared limiter, or on this process's memory while the
    shared storage does not answer: for counts that must never refuse because counting failed
    (a tip, a traveler's receipt look-up). The outage is logged once per retry period."""

    def __init__(self, shared: Limiter, what: str) -> None:
        self.shared = shared
        self.what = what  # named in the log line: "shared <what> limits unavailable"
        # Exact for one process; used alone without Redis, and as the fallback with it.
        self._local = shared if not shared.shared else Limiter()
        self._lock = threading.Lock()
        self._shared_down_until = 0.0

    def run(self, step: Callable[[Limiter], T]) -> T:
        """`step` on the shared limiter; on this process's memory if the storage fails."""
        with self._lock:
            limiter = self.shared if time.monotonic() >= self._shared_down_until else self._local
        try:
            return step(limiter)
        except LimiterUnavailable as exc:
            if limiter is self._local:  # memory never fails
                raise
            with self._lock:
                self._shared_down_until = time.monotonic() + RETRY_SHARED_SECONDS
            # The error names the storage, never a client or a code: safe to log.
            log.warning(
                "shared %s limits unavailable (%s); counting in this process for %.0f s",
                self.what,
                type(exc).__name__,
                RETRY_SHARED_SECONDS,
            )
            return step(self._local)


def get_limiter(app: Flask | None = None) -> Limiter:
    """The app's limiter (the current app's when `app` is None)."""
    limiter: Limiter = (app if app is not None else current_app).extensions[LIMITER]
    return limiter
