"""States and provinces from coordinates, offline."""

from __future__ import annotations

from tipline.locations.geo import locate, region_code


def test_us_states_dc_provinces_and_territories() -> None:
    regions = locate(
        [
            (40.7506, -73.9935),
            (38.8973, -77.0063),
            (45.4999, -73.5662),
            (49.2737, -123.0983),
            (18.4655, -66.1057),
        ]
    )
    assert [(r.state, r.country) for r in regions] == [
        ("NY", "US"),
        ("DC", "US"),
        ("QC", "CA"),
        ("BC", "CA"),
        ("PR", "US"),
    ]
    assert regions[0].distance_km < 5


def test_outside_north_america_is_none() -> None:
    (paris,) = locate([(48.8443, 2.3744)])
    assert paris.state is None and paris.country == "FR"


def test_time_zone_overrules_a_nearest_town_across_the_border() -> None:
    churchill = (58.7677, -94.1748)
    (plain,) = locate([churchill])
    assert plain.state == "NU"  # the nearest town of 1,000+ people is Arviat, Nunavut
    (ruled,) = locate([churchill], ["America/Winnipeg"])
    assert (ruled.state, ruled.overruled) == ("MB", "NU")


def test_a_us_zone_never_moves_a_canadian_stop() -> None:
    # Amtrak files Toronto under America/New_York: the zone says nothing about the country.
    (toronto,) = locate([(43.6454, -79.3808)], ["America/New_York"])
    assert (toronto.state, toronto.overruled) == ("ON", None)


def test_region_codes() -> None:
    assert region_code("US", "District of Columbia") == "DC"
    assert region_code("CA", "Newfoundland and Labrador") == "NL"
    assert region_code("MX", "Sonora") is None
    assert region_code("US", None) is None
