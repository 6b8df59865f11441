"""One list of regions: the geocoder, routing, accounts and on-call all read it."""

from __future__ import annotations

import pytest

from tipline.locations import regions
from tipline.locations.geo import locate


def test_every_state_dc_territory_and_province_once() -> None:
    assert len(regions.US) == 50 + 1 + 5
    assert len(regions.CANADA) == 13
    assert {"PR", "VI", "GU", "AS", "MP"} <= regions.US
    assert regions.get("pr").name == "Puerto Rico"
    assert regions.get("QC").country is regions.Country.CA
    assert regions.get("national") is regions.NATIONAL_REGION


def test_every_default_time_zone_exists() -> None:
    from zoneinfo import ZoneInfo

    for region in [*regions.REGIONS.values(), regions.NATIONAL_REGION]:
        ZoneInfo(region.timezone)


@pytest.mark.parametrize(
    ("given", "expected"),
    [(["ny", " NJ ", "NY"], ["NJ", "NY"]), (["PR"], ["PR"]), (["National"], ["national"])],
)
def test_normalize(given: list[str], expected: list[str]) -> None:
    assert regions.normalize(given) == expected


@pytest.mark.parametrize("given", [[], ["ZZ"], ["national", "NY"], ["Mars"]])
def test_normalize_refuses(given: list[str]) -> None:
    with pytest.raises(regions.UnknownJurisdiction):
        regions.normalize(given)


def test_names_from_the_geocoder_map_to_codes() -> None:
    assert regions.code_for_name("US", "District of Columbia") == "DC"
    assert regions.code_for_name("US", "Washington, D.C.") == "DC"
    assert regions.code_for_name("CA", "Newfoundland and Labrador") == "NL"
    assert regions.code_for_name("MX", "Sonora") is None
    assert regions.code_for_name("US", None) is None


def test_a_station_in_san_juan_is_in_puerto_rico() -> None:
    (san_juan,) = locate([(18.4655, -66.1057)], ["America/Puerto_Rico"])
    assert (san_juan.state, san_juan.country) == ("PR", "US")
    assert regions.find(san_juan.state) is not None
