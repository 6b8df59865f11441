"""Point in polygon against the shipped state and province boundaries (data/boundaries.json.gz).

The file is derived by tools/build_boundaries.py from the US Census Bureau's cartographic
boundaries and Statistics Canada's; data/README.md gives the sources and licences.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

DATA = "boundaries.json.gz"
# A point outside every polygon (a pier, a station on a coarsely drawn coast) is given the
# nearest region within this distance, for a person to confirm; farther, it is in no US state
# or Canadian province. (No station of the Amtrak, VIA or Caltrain feeds lies outside.)
OUTSIDE_KM = 5.0
# How far to look for a neighbouring region when measuring the distance to a border.
SEARCH_KM = 50.0
_KM_PER_DEGREE_LAT = 110.57
_KM_PER_DEGREE_LON = 111.32  # at the equator; times cos(latitude)


@dataclass(frozen=True)
class Hit:
    """Where a point lies by the boundaries."""

    code: str | None  # the region, None when no region is within OUTSIDE_KM
    outside_km: float  # 0 inside the region; else how far the point is from it
    border_km: float | None  # distance to the nearest other region, None beyond SEARCH_KM
    neighbour: str | None  # that region


@dataclass(frozen=True)
class _Region:
    code: str
    box: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
    x1: NDArray[np.float64]
    y1: NDArray[np.float64]
    x2: NDArray[np.float64]
    y2: NDArray[np.float64]

    def near(self, lon: float, lat: float, km: float) -> bool:
        """Whether the point is within `km` of the bounding box."""
        dlat = km / _KM_PER_DEGREE_LAT
        dlon = km / (_KM_PER_DEGREE_LON * max(math.cos(math.radians(lat)), 0.05))
        x0, y0, x1, y1 = self.box
        return x0 - dlon <= lon <= x1 + dlon and y0 - dlat <= lat <= y1 + dlat

    def contains(self, lon: float, lat: float) -> bool:
        """Even-odd ray casting over every ring: holes and enclaves count by themselves."""
        straddles = (self.y1 > lat) != (self.y2 > lat)
        if not straddles.any():
            return False
        x1, y1, x2, y2 = (a[straddles] for a in (self.x1, self.y1, self.x2, self.y2))
        crossing = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
        return bool(np.count_nonzero(crossing > lon) % 2)

    def distance_km(self, lon: float, lat: float) -> float:
        """Distance from the point to the region's outline, on a local flat projection."""
        kx = _KM_PER_DEGREE_LON * math.cos(math.radians(lat))
        ax, ay = (self.x1 - lon) * kx, (self.y1 - lat) * _KM_PER_DEGREE_LAT
        bx, by = (self.x2 - lon) * kx, (self.y2 - lat) * _KM_PER_DEGREE_LAT
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip(np.where(length2 > 0, -(ax * dx + ay * dy) / length2, 0.0), 0.0, 1.0)
        px, py = ax + t * dx, ay + t * dy
        return float(np.sqrt((px * px + py * py).min()))


@lru_cache(maxsize=1)
def _regions() -> tuple[_Region, ...]:
    """The shipped boundaries, decoded once per process (about 0.2 s)."""
    raw = resources.files("tipline.locations").joinpath("data", DATA).read_bytes()
    data = json.loads(gzip.decompress(raw))
    scale = float(data["scale"])
    out = []
    for code, rings in data["regions"].items():
        starts: list[NDArray[np.float64]] = []
        ends: list[NDArray[np.float64]] = []
        for flat in rings:
            steps = np.asarray(flat, dtype=np.int64).reshape(-1, 2)
            points = np.cumsum(steps, axis=0) / scale
            # Close the ring whether or not the source repeated its first point.
            closed = np.vstack([points, points[:1]])
            starts.append(closed[:-1])
            ends.append(closed[1:])
        a, b = np.vstack(starts), np.vstack(ends)
        box = (
            float(min(a[:, 0].min(), b[:, 0].min())),
            float(min(a[:, 1].min(), b[:, 1].min())),
            float(max(a[:, 0].max(), b[:, 0].max())),
            float(max(a[:, 1].max(), b[:, 1].max())),
        )
        out.append(_Region(code, box, a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
    return tuple(out)


def codes() -> frozenset[str]:
    """The regions the shipped file draws."""
    return frozenset(region.code for region in _regions())


def locate(lat: float, lon: float) -> Hit:
    """The region a point lies in, how far it is from the nearest other region, and which."""
    nearby = [r for r in _regions() if r.near(lon, lat, SEARCH_KM)]
    inside = [r for r in nearby if r.contains(lon, lat)]
    distances = {r.code: r.distance_km(lon, lat) for r in nearby}
    outside_km = 0.0
    if inside:
        # Sources drawn apart can overlap by a few metres: the deeper inside wins.
        chosen: str | None = max(inside, key=lambda r: distances[r.code]).code
    else:
        chosen = min(distances, key=distances.__getitem__, default=None)
        if chosen is not None and distances[chosen] > OUTSIDE_KM:
            chosen = None
        outside_km = distances[chosen] if chosen is not None else math.inf
    others = {code: km for code, km in distances.items() if code != chosen}
    neighbour = min(others, key=others.__getitem__, default=None)
    border = others[neighbour] if neighbour is not None else None
    if border is not None and border > SEARCH_KM:
        neighbour, border = None, None
    return Hit(chosen, outside_km, border, neighbour)
