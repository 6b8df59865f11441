"""Short-lived tip limits per client and per placement, kept in process memory only."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable

from tipline.config import Rate


class RateLimiter:
    """Sliding-window counters per key; client addresses enter only as salted hashes.

    The salt is random per process and never leaves memory, so nothing here could link a
    tip to an address even if memory were dumped after a restart.
    """

    def __init__(self, per_client: Rate, per_placement: Rate) -> None:
        self.per_client = per_client
        self.per_placement = per_placement
        self._salt = secrets.token_bytes(16)
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def client_key(self, address: str | None) -> str:
        """A short keyed hash of a client address, meaningless outside this process."""
        digest = hmac.new(self._salt, (address or "").encode(), hashlib.sha256).hexdigest()
        return "c:" + digest[:32]

    def allow(self, address: str | None, placement_key: str, now: float | None = None) -> bool:
        """Count one tip if both limits allow it; False (and nothing counted) if over."""
        now = time.monotonic() if now is None else now
        checks = [
            (self.client_key(address), self.per_client),
            ("p:" + placement_key, self.per_placement),
        ]
        checks = [(key, limit) for key, limit in checks if limit.count]
        with self._lock:
            self._calls += 1
            if self._calls % 1000 == 0:
                self._forget_idle(now)
            for key, limit in checks:
                hits = self._window(key, limit, now)
                if len(hits) >= limit.count:
                    return False
            for key, _limit in checks:
                self._hits.setdefault(key, deque()).append(now)
        return True

    def _window(self, key: str, limit: Rate, now: float) -> deque[float]:
        hits = self._hits.get(key, deque())
        while hits and hits[0] <= now - limit.seconds:
            hits.popleft()
        return hits

    def _forget_idle(self, now: float) -> None:
        longest = max(self.per_client.seconds, self.per_placement.seconds)
        idle: Iterable[str] = [k for k, h in self._hits.items() if not h or h[-1] <= now - longest]
        for key in idle:
            del self._hits[key]
