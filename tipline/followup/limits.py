"""The follow-up's counters on the shared limiter, failing open like the tip limits.

Receipt codes carry more than 80 bits, so guessing while the shared storage is down is no real
risk, while refusing every look-up would lock every traveler out of their report (F16). When
the shared storage fails, this process counts in its own memory (logged once per period) and asks
the storage again later, as tipline.intake.limits does for tips (both are `limiter.FailOpen`).
"""

from __future__ import annotations

from flask import current_app

from tipline.limiter import FailOpen, get_limiter

EXTENSION = "tipline.followup.limits"


def followup_limits() -> FailOpen:
    """The current app's follow-up limits (made on first use, on the app's limiter)."""
    shared = get_limiter()
    limits: FailOpen | None = current_app.extensions.get(EXTENSION)
    if limits is None or limits.shared is not shared:
        limits = current_app.extensions[EXTENSION] = FailOpen(shared, "follow-up")
    return limits
