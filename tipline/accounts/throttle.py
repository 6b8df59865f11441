"""Short-lived sign-in failure counters kept in this process's memory, never in the database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

# Beyond this many keys the oldest are dropped: a flood of addresses cannot exhaust memory.
MAX_KEYS = 100_000


@dataclass
class _Counter:
    failures: int
    first_at: datetime
    locked_until: datetime | None = None


class Throttle:
    """Counts failures per key; `limit` failures within `window` lock the key for `lock`."""

    def __init__(self) -> None:
        self._counters: dict[str, _Counter] = {}
        self._lock = threading.Lock()
        # Keys are keyed hashes: a memory dump shows no client address or email.
        self._salt = secrets.token_bytes(32)

    def _key(self, kind: str, value: str) -> str:
        return hmac.new(self._salt, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()

    def locked_for(self, kind: str, value: str, now: datetime) -> timedelta | None:
        """How long `value` stays locked, or None when it may try."""
        with self._lock:
            counter = self._counters.get(self._key(kind, value))
            if counter is None or counter.locked_until is None or counter.locked_until <= now:
                return None
            return counter.locked_until - now

    def fail(
        self,
        kind: str,
        value: str,
        now: datetime,
        *,
        limit: int,
        window: timedelta,
        lock: timedelta,
    ) -> timedelta | None:
        """Count one failure; return the lock's length when this failure triggers one."""
        key = self._key(kind, value)
        with self._lock:
            counter = self._counters.get(key)
            if (
                counter is None
                or now - counter.first_at > window
                or (counter.locked_until is not None and counter.locked_until <= now)
            ):
                counter = _Counter(failures=0, first_at=now)
                self._counters.pop(key, None)
                self._counters[key] = counter
                self._evict()
            counter.failures += 1
            if counter.failures >= limit:
                counter.locked_until = now + lock
                return lock
            return None

    def clear(self, kind: str, value: str) -> None:
        """Forget `value`'s failures (after a success)."""
        with self._lock:
            self._counters.pop(self._key(kind, value), None)

    def _evict(self) -> None:
        # dicts keep insertion order and a counter is re-inserted when it restarts: the first
        # keys are the stalest.
        while len(self._counters) > MAX_KEYS:
            del self._counters[next(iter(self._counters))]
