"""The jurisdictions a staff account may hold: US states, DC, Canadian provinces and territories."""

from __future__ import annotations

from collections.abc import Iterable

from tipline.accounts.models import NATIONAL

# fmt: off
US = frozenset([
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY",
])
CANADA = frozenset(["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"])
# fmt: on
KNOWN = US | CANADA


class UnknownJurisdiction(ValueError):
    """A code that is not a US state, DC, a Canadian province or territory, or "national"."""


def normalize(codes: Iterable[str]) -> list[str]:
    """Upper-case state/province codes (or ["national"]), sorted and de-duplicated."""
    cleaned = {c.strip() for c in codes if c.strip()}
    if not cleaned:
        raise UnknownJurisdiction("give at least one jurisdiction (a state/province, or national)")
    if any(c.lower() == NATIONAL for c in cleaned):
        if len(cleaned) > 1:
            raise UnknownJurisdiction("national already covers every state; give it alone")
        return [NATIONAL]
    upper = {c.upper() for c in cleaned}
    unknown = sorted(upper - KNOWN)
    if unknown:
        raise UnknownJurisdiction(
            f"unknown jurisdiction {', '.join(unknown)}: use a US state or DC, a Canadian "
            "province or territory (two letters, e.g. NY, QC), or national"
        )
    return sorted(upper)
