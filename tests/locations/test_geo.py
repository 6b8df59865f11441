"""States and provinces by point in polygon on the shipped boundaries, checked by time zone."""

from __future__ import annotations

import gzip
import json
from importlib import resources

import pytest

from tipline.locations import boundaries, regions
from tipline.locations.geo import STANDARD_OFFSETS, locate, standard_offset, zone_fits

# Stations of the real Amtrak and VIA feeds near a state or provincial line, with where they
# really are (the operators' station pages, the towns' own states). Coordinates as the feeds
# give them. Each is decided by the boundaries alone: no time zone, no nearest town.
BORDER_STATIONS = [
    ("NFL", 43.109908, -79.055276, "NY"),  # Niagara Falls NY, across the river from Ontario
    ("CIN", 39.109927, -84.537061, "OH"),  # Cincinnati Union Terminal, Kentucky across the Ohio
    ("VAN", 45.628901, -122.686544, "WA"),  # Vancouver WA, Portland across the Columbia
    ("MAY", 38.652148, -83.771074, "KY"),  # Maysville KY (the GeoNames town said Ohio)
    ("NFNY", 43.1097327626, -79.0548694985, "NY"),  # VIA's name for Niagara Falls NY
    ("NFS", 43.108736, -79.063291, "ON"),  # Niagara Falls, Ontario
    ("NIAG", 43.1089370258, -79.0633386904, "ON"),
    ("BRA", 42.850849, -72.556497, "VT"),  # Brattleboro, 60 m from New Hampshire
    ("HFY", 39.324452, -77.731078, "WV"),  # Harpers Ferry
    ("RDW", 44.566214, -92.537066, "MN"),  # Red Wing
    ("WRJ", 43.647785, -72.317272, "VT"),  # White River Junction
    ("WIH", 45.657669, -120.966142, "WA"),  # Wishram
    ("AKY", 38.480875, -82.639603, "KY"),  # Ashland
    ("WNM", 43.479908, -72.384985, "VT"),  # Windsor-Mt. Ascutney
    ("WLY", 41.381081, -71.82978, "RI"),  # Westerly
    ("FTC", 43.853788, -73.389681, "NY"),  # Ticonderoga
    ("NDL", 34.840616, -114.606188, "CA"),  # Needles
    ("OMA", 41.249697, -95.927201, "NE"),  # Omaha
    ("DYE", 41.515413, -87.518076, "IN"),  # Dyer
    ("BRL", 40.805788, -91.101951, "IA"),  # Burlington
    ("MEM", 35.132458, -90.059109, "TN"),  # Memphis
    ("FAR", 46.880982, -96.785372, "ND"),  # Fargo
    ("SPM", 38.721281, -82.963751, "KY"),  # South Portsmouth
    ("YNY", 40.935586, -73.902263, "NY"),  # Yonkers
    ("BNG", 45.71502, -121.46873, "WA"),  # Bingen-White Salmon
    ("FMD", 40.629558, -91.313529, "IA"),  # Fort Madison
    ("YUM", 32.723139, -114.615571, "AZ"),  # Yuma
    ("CWH", 40.071663, -74.952187, "PA"),  # Cornwells Heights
    ("TRE", 40.219011, -74.75444, "NJ"),  # Trenton
    ("HMI", 41.691155, -87.506511, "IN"),  # Hammond-Whiting
    ("HUN", 38.41582, -82.439735, "WV"),  # Huntington
    ("WIN", 44.044404, -91.640073, "MN"),  # Winona
    ("RSP", 44.99487, -73.371093, "NY"),  # Rouses Point, at the Quebec line
    ("PTH", 42.960419, -82.443805, "MI"),  # Port Huron
    ("ALX", 38.806503, -77.06233, "VA"),  # Alexandria
    ("KCY", 39.084576, -94.585129, "MO"),  # Kansas City Union Station
    ("STL", 38.624195, -90.203973, "MO"),  # St. Louis
    ("LSE", 43.833155, -91.247298, "WI"),  # La Crosse
    ("FTN", 36.525704, -88.888772, "KY"),  # Fulton
    ("CLA", 43.36833, -72.377644, "NH"),  # Claremont
    ("NRK", 39.669686, -75.753513, "DE"),  # Newark, Delaware
    ("CUM", 39.650628, -78.758, "MD"),  # Cumberland
    ("WAS", 38.896993, -77.006422, "DC"),  # Washington Union Station
    ("ELP", 31.757346, -106.495644, "TX"),  # El Paso
    ("DOV", 43.197968, -70.878361, "NH"),  # Dover
    ("HHL", 42.773297, -71.086375, "MA"),  # Haverhill
    ("NBU", 41.796656, -86.745782, "MI"),  # New Buffalo
    ("BFX", 42.878449, -78.873748, "NY"),  # Buffalo Exchange Street
    ("PHL", 39.955615, -75.181041, "PA"),  # Philadelphia
    ("KEL", 46.142264, -122.913016, "WA"),  # Kelso-Longview
    ("ALN", 38.921007, -90.157298, "IL"),  # Alton
    ("MTPD", 47.9747533063, -66.9392200995, "QC"),  # Matapédia, New Brunswick across the river
    ("CBTN", 48.004856, -66.67838, "NB"),  # Campbellton, Quebec across the Restigouche
    ("WDON", 42.324933, -83.007134, "ON"),  # Windsor, Detroit across the river
    ("TOGO", 51.403019, -101.58655, "SK"),  # Togo, at the Manitoba line
    ("WNTB", 49.8835958588, -95.1946000933, "MB"),  # Winnitoba, at the Ontario line
    ("BRKV", 44.592113, -75.692713, "ON"),  # Brockville, New York across the St. Lawrence
    ("SARN", 42.95709, -82.38892, "ON"),  # Sarnia, Port Huron across the St. Clair
    ("OTTW", 45.41599, -75.65151, "ON"),  # Ottawa, Gatineau across the river
    ("AMHS", 45.8299867039, -64.2123841706, "NS"),  # Amherst, at the New Brunswick line
    ("CHUR", 58.767685933, -94.1747663006, "MB"),  # Churchill (the nearest town is in Nunavut)
    ("MCBR", 53.300555, -120.1703, "BC"),  # McBride (the nearest town was in Alberta)
    ("CHLO", 47.99419, -66.304574, "NB"),  # Charlo
]

# Where the shipped boundaries are too coarse to decide (the line runs along a river bank or
# through the station): listed for a person by `stations check`, and corrected by set-state.
FOR_A_PERSON = [
    ("BLF", 43.13654, -72.444597, "VT"),  # Bellows Falls: the line is Vermont's river bank
    ("TXA", 33.420067, -94.043082, "AR"),  # Texarkana: the state line runs through the station
]


@pytest.mark.parametrize(("code", "lat", "lon", "state"), BORDER_STATIONS)
def test_border_stations_are_in_their_state(code: str, lat: float, lon: float, state: str) -> None:
    (placed,) = locate([(lat, lon)])
    assert placed.state == state, code
    assert placed.outside_km == 0
    assert placed.country == str(regions.get(state).country)


@pytest.mark.parametrize(("code", "lat", "lon", "state"), FOR_A_PERSON)
def test_stations_the_data_cannot_decide_are_close_enough_to_be_checked(
    code: str, lat: float, lon: float, state: str
) -> None:
    (placed,) = locate([(lat, lon)])
    assert placed.border_km is not None and placed.border_km < 1.0, code
    assert state in (placed.state, placed.neighbour)


def test_us_states_dc_provinces_and_territories() -> None:
    found = locate(
        [
            (40.7506, -73.9935),  # New York Penn
            (38.8973, -77.0063),  # Washington Union Station
            (45.4999, -73.5662),  # Montréal Gare Centrale
            (49.2737, -123.0983),  # Vancouver Pacific Central
            (18.4655, -66.1057),  # San Juan
            (61.2176, -149.8997),  # Anchorage
            (21.3069, -157.8583),  # Honolulu
            (53.5461, -113.4938),  # Edmonton
            (47.5615, -52.7126),  # St. John's
        ]
    )
    assert [(p.state, p.country) for p in found] == [
        ("NY", "US"),
        ("DC", "US"),
        ("QC", "CA"),
        ("BC", "CA"),
        ("PR", "US"),
        ("AK", "US"),
        ("HI", "US"),
        ("AB", "CA"),
        ("NL", "CA"),
    ]


def test_outside_north_america_is_nowhere() -> None:
    (paris,) = locate([(48.8443, 2.3744)])
    assert (paris.state, paris.country) == (None, None)
    assert paris.note("Europe/Paris") == "in no US state or Canadian province"
    (ensenada,) = locate([(31.8667, -116.5964)])
    assert ensenada.state is None
    # Just across the line the nearest state is given, but never without a person's look.
    (tijuana,) = locate([(32.5149, -117.0382)])
    assert tijuana.state == "CA" and 2 < tijuana.outside_km < 4
    assert (tijuana.note(None) or "").startswith("outside every boundary, 2.9 km from CA")


def test_a_station_on_the_shore_goes_to_the_nearest_region_and_says_so() -> None:
    # A pier in San Francisco Bay, off the coarse coastline but 1 km from land.
    (pier,) = locate([(37.8080, -122.4100)])
    assert pier.state == "CA"
    if pier.outside_km:
        assert "outside every boundary" in (pier.note(None) or "")


def test_time_zones_are_checked_not_obeyed() -> None:
    # Amtrak files Toronto under New York time: same standard time, so it fits Ontario.
    (toronto,) = locate([(43.6454, -79.3808)], ["America/New_York"])
    assert (toronto.state, toronto.zone_fits, toronto.note("America/New_York")) == (
        "ON",
        True,
        None,
    )
    # Amtrak's "Lbo" stop lies in Manitoba but carries New York time: a person should look.
    (lbo,) = locate([(54.77395978, -101.84806319)], ["America/New_York"])
    assert lbo.state == "MB" and lbo.zone_fits is False
    assert lbo.note("America/New_York") == "its time zone America/New_York is not used in MB"
    # Arizona keeps no daylight saving time; its standard time is Denver's.
    assert zone_fits("AZ", "America/Denver") and zone_fits("AZ", "America/Phoenix")
    assert zone_fits("SK", "America/Regina") and not zone_fits("SK", "America/Halifax")
    assert standard_offset("America/St_Johns") == -3.5


def test_every_region_has_offsets_that_its_default_zone_keeps() -> None:
    assert set(STANDARD_OFFSETS) == set(regions.REGIONS)
    for region in regions.REGIONS.values():
        assert zone_fits(region.code, region.timezone), region.code


def test_the_shipped_file_draws_every_region_and_names_its_sources() -> None:
    assert boundaries.codes() == set(regions.REGIONS)
    raw = resources.files("tipline.locations").joinpath("data", boundaries.DATA).read_bytes()
    about = json.loads(gzip.decompress(raw))["about"]
    assert "Census" in about and "Statistics Canada" in about
    readme = resources.files("tipline.locations").joinpath("data", "README.md").read_text()
    assert "public domain" in readme and "Open Government Licence" in readme
    assert "tools/build_boundaries.py" in readme
