"""States and provinces of stations, by their coordinates within official boundaries (GTFS
carries no region), checked against each stop's own time zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from tipline.locations import boundaries, regions

# The standard-time UTC offsets (hours) in use somewhere in each region: a stop whose own zone
# keeps none of them is probably placed in the wrong region (or its zone is wrong). Standard
# time only, so a zone without daylight saving (Arizona, Saskatchewan) fits its neighbours.
# fmt: off
STANDARD_OFFSETS: dict[str, tuple[float, ...]] = {
    "AL": (-6, -5), "AK": (-9, -10), "AZ": (-7,), "AR": (-6,), "CA": (-8,), "CO": (-7,),
    "CT": (-5,), "DE": (-5,), "DC": (-5,), "FL": (-5, -6), "GA": (-5,), "HI": (-10,),
    "ID": (-7, -8), "IL": (-6,), "IN": (-5, -6), "IA": (-6,), "KS": (-6, -7), "KY": (-5, -6),
    "LA": (-6,), "ME": (-5,), "MD": (-5,), "MA": (-5,), "MI": (-5, -6), "MN": (-6,),
    "MS": (-6,), "MO": (-6,), "MT": (-7,), "NE": (-6, -7), "NV": (-8, -7), "NH": (-5,),
    "NJ": (-5,), "NM": (-7,), "NY": (-5,), "NC": (-5,), "ND": (-6, -7), "OH": (-5,),
    "OK": (-6,), "OR": (-8, -7), "PA": (-5,), "RI": (-5,), "SC": (-5,), "SD": (-6, -7),
    "TN": (-5, -6), "TX": (-6, -7), "UT": (-7,), "VT": (-5,), "VA": (-5,), "WA": (-8,),
    "WV": (-5,), "WI": (-6,), "WY": (-7,), "PR": (-4,), "VI": (-4,), "GU": (10,),
    "AS": (-11,), "MP": (10,),
    "AB": (-7,), "BC": (-8, -7), "MB": (-6,), "NB": (-4,), "NL": (-3.5, -4), "NS": (-4,),
    "NT": (-7,), "NU": (-5, -6, -7), "ON": (-5, -6), "PE": (-4,), "QC": (-5, -4),
    "SK": (-6, -7), "YT": (-7,),
}
# fmt: on

# Offsets are those in force in this year's January and July (tzdata applies today's rules to
# later years).
_REFERENCE_YEAR = 2026


@dataclass(frozen=True)
class Placed:
    """Where a stop lies by the boundaries, and what a person may want to confirm."""

    state: str | None
    country: str | None
    border_km: float | None  # distance to the nearest other region (None: none near)
    neighbour: str | None  # that region
    outside_km: float  # 0 inside `state`'s boundary; else how far outside it
    zone_fits: bool | None  # the stop's time zone is used in `state` (None: no state)

    def note(self, timezone: str | None) -> str | None:
        """Why a person should confirm this answer, a near border aside (None: no reason)."""
        reasons = []
        if self.state is None:
            reasons.append("in no US state or Canadian province")
        elif self.outside_km > 0:
            reasons.append(f"outside every boundary, {self.outside_km:.1f} km from {self.state}")
        if self.zone_fits is False:
            reasons.append(f"its time zone {timezone} is not used in {self.state}")
        return "; ".join(reasons) or None


def locate(
    points: Sequence[tuple[float, float]], timezones: Sequence[str | None] | None = None
) -> list[Placed]:
    """The region of each (lat, lon) point, in order, with the checks a person may need."""
    zones = list(timezones) if timezones is not None else [None] * len(points)
    placed = []
    for (lat, lon), zone in zip(points, zones, strict=True):
        hit = boundaries.locate(lat, lon)
        region = regions.find(hit.code)
        placed.append(
            Placed(
                state=hit.code,
                country=str(region.country) if region and region.country else None,
                border_km=hit.border_km,
                neighbour=hit.neighbour,
                outside_km=hit.outside_km if hit.code else 0.0,
                zone_fits=zone_fits(hit.code, zone) if hit.code and zone else None,
            )
        )
    return placed


def zone_fits(code: str, timezone: str) -> bool | None:
    """Whether a stop's IANA zone keeps a standard time used in region `code` (None: unknown)."""
    offsets = STANDARD_OFFSETS.get(code)
    if offsets is None:
        return None
    return standard_offset(timezone) in offsets


@lru_cache(maxsize=256)
def standard_offset(timezone: str) -> float:
    """A zone's standard-time UTC offset in hours (the smaller of January's and July's)."""
    zone = ZoneInfo(timezone)
    found = []
    for month in (1, 7):
        offset = datetime(_REFERENCE_YEAR, month, 15, 12, tzinfo=UTC).astimezone(zone).utcoffset()
        assert offset is not None
        found.append(offset.total_seconds() / 3600)
    return min(found)
