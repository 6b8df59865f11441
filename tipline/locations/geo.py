"""States and provinces derived offline from coordinates (GTFS carries no region)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from tipline.locations import regions

# GeoNames files US territories as countries of their own; their USPS code is that country code.
US_TERRITORIES = frozenset(
    r.code
    for r in regions.REGIONS.values()
    if r.country is regions.Country.US and r.kind is regions.Kind.TERRITORY
)

# The nearest place of 1,000+ people can lie across a provincial border in the sparse north
# (Churchill, Manitoba is nearest to Arviat, Nunavut; McBride, BC to Grande Cache, Alberta). A
# Canadian stop's own time zone rules such answers out: each zone spans only these provinces.
CA_ZONE_PROVINCES: dict[str, frozenset[str]] = {
    zone: frozenset(codes.split())
    for zone, codes in {
        "America/St_Johns": "NL",
        "America/Goose_Bay": "NL",
        # Operators label New Brunswick stops Atlantic time under Halifax as well as Moncton.
        "America/Halifax": "NS PE NB",
        "America/Glace_Bay": "NS",
        "America/Moncton": "NB",
        "America/Toronto": "ON QC",
        "America/Montreal": "QC ON",
        "America/Nipigon": "ON",
        "America/Thunder_Bay": "ON",
        "America/Atikokan": "ON",
        "America/Blanc-Sablon": "QC",
        "America/Winnipeg": "MB ON",
        "America/Rainy_River": "ON MB",
        "America/Regina": "SK",
        "America/Swift_Current": "SK",
        "America/Edmonton": "AB BC SK NT",
        "America/Vancouver": "BC",
        "America/Creston": "BC",
        "America/Dawson_Creek": "BC",
        "America/Fort_Nelson": "BC",
        "America/Whitehorse": "YT",
        "America/Dawson": "YT",
        "America/Yellowknife": "NT",
        "America/Inuvik": "NT",
        "America/Iqaluit": "NU",
        "America/Rankin_Inlet": "NU",
        "America/Cambridge_Bay": "NU",
        "America/Resolute": "NU",
    }.items()
}

# How many nearest places to scan for one in a province the stop's time zone allows.
_NEIGHBOURS = 400

_EARTH_KM = 6371.0


@dataclass(frozen=True)
class Region:
    """Where a point lies: state/province code and country (None when not mappable)."""

    state: str | None
    country: str | None
    place: str  # the nearest known place in that region, to explain the answer
    distance_km: float  # from the point to that place
    # The region of the nearest place overall, when the time zone ruled it out.
    overruled: str | None = None


def region_code(country_code: str, state_name: str | None) -> str | None:
    """The USPS or Canada Post code for a GeoNames state name, else None."""
    if country_code in US_TERRITORIES:
        return country_code
    return regions.code_for_name(country_code, state_name)


def locate(
    points: Sequence[tuple[float, float]], timezones: Sequence[str | None] | None = None
) -> list[Region]:
    """The region of each (lat, lon) point, in order, from the offline GeoNames extract."""
    if not points:
        return []
    zones = list(timezones) if timezones is not None else [None] * len(points)
    # One batched query: loading the extract takes about half a second, the lookups nothing.
    import reverse_geocode  # lazily: it loads scipy, 0.7 s on every CLI start otherwise

    found = reverse_geocode.search(list(points))
    located = []
    for (lat, lon), zone, hit in zip(points, zones, found, strict=True):
        region = _region(lat, lon, hit)
        allowed = CA_ZONE_PROVINCES.get(zone or "")
        # Only a Canadian answer is checked: cross-border operators give US stops Canadian zones
        # and Canadian stops US zones, so a zone says nothing about which country a stop is in.
        if allowed and region.country == "CA" and region.state not in allowed:
            region = _nearest_allowed(lat, lon, allowed, region)
        located.append(region)
    return located


def _region(lat: float, lon: float, hit: dict[str, Any]) -> Region:
    """A Region from one GeoNames place."""
    country = hit.get("country_code") or None
    state = region_code(country or "", hit.get("state"))
    if country in US_TERRITORIES:
        country = "US"
    distance = _distance_km(lat, lon, hit["latitude"], hit["longitude"])
    return Region(
        state=state, country=country, place=str(hit.get("city", "")), distance_km=distance
    )


def _nearest_allowed(lat: float, lon: float, allowed: frozenset[str], nearest: Region) -> Region:
    """The nearest Canadian place in an allowed province; `nearest` marked overruled if none."""
    # reverse_geocode answers only the single nearest place; its k-d tree gives the next ones.
    import reverse_geocode

    data = reverse_geocode.GeocodeData()
    _, indices = data._tree.query([(lat, lon)], k=_NEIGHBOURS)
    for index in indices[0]:
        hit = data._locations[index]
        if hit.get("country_code") == "CA":
            candidate = _region(lat, lon, hit)
            if candidate.state in allowed:
                return replace(candidate, overruled=nearest.state)
    return replace(nearest, state=None, overruled=nearest.state)


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * math.asin(math.sqrt(a))
