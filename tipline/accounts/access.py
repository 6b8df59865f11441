"""Who may see what: the jurisdiction rule every capability applies, free of any request."""

from __future__ import annotations

from collections.abc import Iterable

from tipline.accounts.models import User


def can_see(user: User | None, jurisdiction_codes: Iterable[str | None]) -> bool:
    """True when `user` works for any of these jurisdictions (national sees everything)."""
    if user is None:
        return False
    if user.is_national:
        return True
    return not user.jurisdiction_codes().isdisjoint(c for c in jurisdiction_codes if c)
