"""Tip limits on the shared limiter: per client a hard stop, per poster a burst flag.

A flood must never silence a poster (PRODUCT.md §6): the per-client limit is the only one that
refuses a tip. Beyond a poster's burst threshold, tips from other clients are still taken and
marked as part of a burst, so staff see them together and the poster desk shows the burst.
"""

from __future__ import annotations

from dataclasses import dataclass

from tipline.config import Rate
from tipline.limiter import FailOpen, Limiter

REPORT_BUCKET = "report"  # /report, with no code at all


@dataclass(frozen=True)
class Admission:
    """Whether a tip may be stored, and whether it arrived in a burst at its poster."""

    allowed: bool
    burst: bool = False
    retry_after: float = 0.0  # seconds until this client may send again (when refused)


def poster_bucket(poster_code: str | None, typed_code: str | None) -> str:
    """The burst bucket of a tip: its poster, the unknown code it was sent to, or /report.

    Unknown codes each count on their own: a flood at one made-up code (a fake sticker) says
    nothing about a traveler who mistyped another code elsewhere in the country.
    """
    if poster_code:
        return "poster:" + poster_code
    if typed_code:
        return "code:" + typed_code
    return REPORT_BUCKET


class TipLimits:
    """Counts tips per client (refuses beyond the limit) and per poster (flags a burst).

    Fail-open by design: a tip must never be lost because Redis is down, so when the shared
    storage fails each process falls back to counting in its own memory (the flooder is still
    stopped, at worst at limit x workers) and retries the shared storage after
    limiter.RETRY_SHARED_SECONDS. Nothing here ever refuses a tip because counting failed.
    """

    def __init__(self, shared: Limiter) -> None:
        self._counts = FailOpen(shared, "tip")

    def admit(
        self, address: str | None, bucket: str, *, per_client: Rate, per_poster: Rate
    ) -> Admission:
        """Count one tip from `address` at `bucket`; refuse only over the per-client limit."""
        return self._counts.run(
            lambda limiter: self._count(limiter, address, bucket, per_client, per_poster)
        )

    @staticmethod
    def _count(
        limiter: Limiter, address: str | None, bucket: str, per_client: Rate, per_poster: Rate
    ) -> Admission:
        # No address at all (a unix socket without TIPLINE_PROXY_HOPS) would put every traveler
        # in one client bucket and let one flooder stop the country: count no client then.
        if address:
            verdict = limiter.hit(per_client, "tip", "client", limiter.fingerprint(address))
            if not verdict.allowed:
                return Admission(False, retry_after=verdict.retry_after)
        burst = not limiter.hit(per_poster, "tip", bucket).allowed
        return Admission(True, burst=burst)
