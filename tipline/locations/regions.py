"""Every place a tip can be routed to: the 50 states, DC, the five inhabited US territories, the
13 Canadian provinces and territories, and `national`.

The one list the geocoder, routing, staff accounts, on-call channels and help numbers share: a
station the geocoder puts in Puerto Rico must be a jurisdiction a PR user and a PR on-call
channel can hold.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

NATIONAL = "national"


class Country(enum.StrEnum):
    """ISO 3166 code of the country a region belongs to."""

    US = "US"
    CA = "CA"


class Kind(enum.StrEnum):
    """What sort of region it is (shown to people; routing treats them alike)."""

    STATE = "state"
    DISTRICT = "district"
    TERRITORY = "territory"
    PROVINCE = "province"
    NATIONAL = "national"


@dataclass(frozen=True)
class Region:
    """A jurisdiction: code (USPS / Canada Post), name, country, default IANA time zone."""

    code: str
    name: str
    country: Country | None  # None only for national
    timezone: str
    kind: Kind


# The zone most of a region's people live in; a region spanning two zones (Texas, Ontario) uses
# it only for display defaults, never to place a train.
# fmt: off
_US: list[tuple[str, str, str, Kind]] = [
    ("AL", "Alabama", "America/Chicago", Kind.STATE),
    ("AK", "Alaska", "America/Anchorage", Kind.STATE),
    ("AZ", "Arizona", "America/Phoenix", Kind.STATE),
    ("AR", "Arkansas", "America/Chicago", Kind.STATE),
    ("CA", "California", "America/Los_Angeles", Kind.STATE),
    ("CO", "Colorado", "America/Denver", Kind.STATE),
    ("CT", "Connecticut", "America/New_York", Kind.STATE),
    ("DE", "Delaware", "America/New_York", Kind.STATE),
    ("DC", "District of Columbia", "America/New_York", Kind.DISTRICT),
    ("FL", "Florida", "America/New_York", Kind.STATE),
    ("GA", "Georgia", "America/New_York", Kind.STATE),
    ("HI", "Hawaii", "Pacific/Honolulu", Kind.STATE),
    ("ID", "Idaho", "America/Boise", Kind.STATE),
    ("IL", "Illinois", "America/Chicago", Kind.STATE),
    ("IN", "Indiana", "America/Indiana/Indianapolis", Kind.STATE),
    ("IA", "Iowa", "America/Chicago", Kind.STATE),
    ("KS", "Kansas", "America/Chicago", Kind.STATE),
    ("KY", "Kentucky", "America/New_York", Kind.STATE),
    ("LA", "Louisiana", "America/Chicago", Kind.STATE),
    ("ME", "Maine", "America/New_York", Kind.STATE),
    ("MD", "Maryland", "America/New_York", Kind.STATE),
    ("MA", "Massachusetts", "America/New_York", Kind.STATE),
    ("MI", "Michigan", "America/Detroit", Kind.STATE),
    ("MN", "Minnesota", "America/Chicago", Kind.STATE),
    ("MS", "Mississippi", "America/Chicago", Kind.STATE),
    ("MO", "Missouri", "America/Chicago", Kind.STATE),
    ("MT", "Montana", "America/Denver", Kind.STATE),
    ("NE", "Nebraska", "America/Chicago", Kind.STATE),
    ("NV", "Nevada", "America/Los_Angeles", Kind.STATE),
    ("NH", "New Hampshire", "America/New_York", Kind.STATE),
    ("NJ", "New Jersey", "America/New_York", Kind.STATE),
    ("NM", "New Mexico", "America/Denver", Kind.STATE),
    ("NY", "New York", "America/New_York", Kind.STATE),
    ("NC", "North Carolina", "America/New_York", Kind.STATE),
    ("ND", "North Dakota", "America/Chicago", Kind.STATE),
    ("OH", "Ohio", "America/New_York", Kind.STATE),
    ("OK", "Oklahoma", "America/Chicago", Kind.STATE),
    ("OR", "Oregon", "America/Los_Angeles", Kind.STATE),
    ("PA", "Pennsylvania", "America/New_York", Kind.STATE),
    ("RI", "Rhode Island", "America/New_York", Kind.STATE),
    ("SC", "South Carolina", "America/New_York", Kind.STATE),
    ("SD", "South Dakota", "America/Chicago", Kind.STATE),
    ("TN", "Tennessee", "America/Chicago", Kind.STATE),
    ("TX", "Texas", "America/Chicago", Kind.STATE),
    ("UT", "Utah", "America/Denver", Kind.STATE),
    ("VT", "Vermont", "America/New_York", Kind.STATE),
    ("VA", "Virginia", "America/New_York", Kind.STATE),
    ("WA", "Washington", "America/Los_Angeles", Kind.STATE),
    ("WV", "West Virginia", "America/New_York", Kind.STATE),
    ("WI", "Wisconsin", "America/Chicago", Kind.STATE),
    ("WY", "Wyoming", "America/Denver", Kind.STATE),
    ("PR", "Puerto Rico", "America/Puerto_Rico", Kind.TERRITORY),
    ("VI", "U.S. Virgin Islands", "America/St_Thomas", Kind.TERRITORY),
    ("GU", "Guam", "Pacific/Guam", Kind.TERRITORY),
    ("AS", "American Samoa", "Pacific/Pago_Pago", Kind.TERRITORY),
    ("MP", "Northern Mariana Islands", "Pacific/Saipan", Kind.TERRITORY),
]
_CA: list[tuple[str, str, str, Kind]] = [
    ("AB", "Alberta", "America/Edmonton", Kind.PROVINCE),
    ("BC", "British Columbia", "America/Vancouver", Kind.PROVINCE),
    ("MB", "Manitoba", "America/Winnipeg", Kind.PROVINCE),
    ("NB", "New Brunswick", "America/Moncton", Kind.PROVINCE),
    ("NL", "Newfoundland and Labrador", "America/St_Johns", Kind.PROVINCE),
    ("NS", "Nova Scotia", "America/Halifax", Kind.PROVINCE),
    ("NT", "Northwest Territories", "America/Yellowknife", Kind.TERRITORY),
    ("NU", "Nunavut", "America/Iqaluit", Kind.TERRITORY),
    ("ON", "Ontario", "America/Toronto", Kind.PROVINCE),
    ("PE", "Prince Edward Island", "America/Halifax", Kind.PROVINCE),
    ("QC", "Quebec", "America/Toronto", Kind.PROVINCE),
    ("SK", "Saskatchewan", "America/Regina", Kind.PROVINCE),
    ("YT", "Yukon", "America/Whitehorse", Kind.TERRITORY),
]
# fmt: on

REGIONS: dict[str, Region] = {
    code: Region(code, name, country, zone, kind)
    for country, rows in ((Country.US, _US), (Country.CA, _CA))
    for code, name, zone, kind in rows
}
# National is a jurisdiction (staff, on-call) but never where a station lies.
NATIONAL_REGION = Region(NATIONAL, "National", None, "America/New_York", Kind.NATIONAL)

US = frozenset(r.code for r in REGIONS.values() if r.country is Country.US)
CANADA = frozenset(r.code for r in REGIONS.values() if r.country is Country.CA)
# GeoNames spells some names its own way; both spellings map to the same code.
_NAMES = {(r.country, r.name): r.code for r in REGIONS.values()} | {
    (Country.US, "Washington, D.C."): "DC",
    (Country.US, "U.S. Virgin Islands"): "VI",
    (Country.US, "Virgin Islands"): "VI",
    (Country.CA, "Québec"): "QC",
    (Country.CA, "Yukon Territory"): "YT",
}


class UnknownJurisdiction(ValueError):
    """A code that is not a region listed here, nor "national"."""


def get(code: str) -> Region:
    """The region (or national) for a code; UnknownJurisdiction when there is none."""
    if code.lower() == NATIONAL:
        return NATIONAL_REGION
    try:
        return REGIONS[code.upper()]
    except KeyError:
        raise UnknownJurisdiction(f"unknown jurisdiction {code!r}") from None


def find(code: str | None) -> Region | None:
    """The region for a code, or None (no error)."""
    try:
        return get(code) if code else None
    except UnknownJurisdiction:
        return None


def code_for_name(country: str, name: str | None) -> str | None:
    """The code of a region named `name` in `country` ("US", "Ohio" -> "OH"), else None."""
    try:
        return _NAMES.get((Country(country), name or ""))
    except ValueError:
        return None


def country_of(code: str | None) -> Country | None:
    """The country a region code belongs to (None for national or unknown codes)."""
    region = find(code)
    return region.country if region else None


def normalize(codes: Iterable[str]) -> list[str]:
    """Upper-case region codes (or ["national"]), sorted and de-duplicated."""
    cleaned = {c.strip() for c in codes if c.strip()}
    if not cleaned:
        raise UnknownJurisdiction("give at least one jurisdiction (a state/province, or national)")
    if any(c.lower() == NATIONAL for c in cleaned):
        if len(cleaned) > 1:
            raise UnknownJurisdiction("national already covers every state; give it alone")
        return [NATIONAL]
    upper = {c.upper() for c in cleaned}
    unknown = sorted(upper - REGIONS.keys())
    if unknown:
        raise UnknownJurisdiction(
            f"unknown jurisdiction {', '.join(unknown)}: use a US state, DC or territory, a "
            "Canadian province or territory (two letters, e.g. NY, PR, QC), or national"
        )
    return sorted(upper)
