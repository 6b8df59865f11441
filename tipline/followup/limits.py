"""The follow-up's counters on the shared limiter, failing open like the tip limits.

Receipt codes carry more than 80 bits, so guessing while the shared storage is down is no real
risk, while refusing every look-up would lock every traveler out of their report (F16). When
the shared storage fails, this process counts in its own memory (logged once per period) and asks
the storage again after RETRY_SHARED_SECONDS, as tipline.intake.limits does for tips.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from tipline.limiter import Limiter, LimiterUnavailable, get_limiter

log = logging.getLogger(__name__)
EXTENSION = "tipline.followup.limits"
RETRY_SHARED_SECONDS = 15.0
T = TypeVar("T")


class FollowupLimits:
    """Runs a counting step on the shared limiter, or on this process's memory while the
    shared storage does not answer."""

    def __init__(self, shared: Limiter) -> None:
        self.shared = shared
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
                "shared follow-up limits unavailable (%s); counting in this process for %.0f s",
                type(exc).__name__,
                RETRY_SHARED_SECONDS,
            )
            return step(self._local)


def followup_limits() -> FollowupLimits:
    """The current app's follow-up limits (made on first use, on the app's limiter)."""
    shared = get_limiter()
    limits: FollowupLimits | None = current_app.extensions.get(EXTENSION)
    if limits is None or limits.shared is not shared:
        limits = current_app.extensions[EXTENSION] = FollowupLimits(shared)
    return limits
