"""Regenerate tipline/locations/data/boundaries.json.gz from the official boundary data.

    python3 -m venv /tmp/bvenv && /tmp/bvenv/bin/pip install shapely msgpack
    /tmp/bvenv/bin/python tools/build_boundaries.py

Needs `npm` and `pip` (each fetches one pinned package from its registry) and shapely >= 2.1 for
the simplification; the product itself reads the derived file with numpy only.

Sources (see tipline/locations/data/README.md for the licences):
- US states, DC and territories: the npm package `us-atlas` 3.0.1, `states-10m.json`: the US
  Census Bureau's cartographic state boundaries, 2017 edition, as quantized TopoJSON (public
  domain).
- Canadian provinces and territories: the PyPI package `coord2loc-can` 0.0.1, which embeds the
  geoBoundaries CAN ADM1 polygons, themselves Statistics Canada's boundary files (Open Government
  Licence - Canada; geoBoundaries CC BY 4.0).

What the script does: decode both; drop Canadian islands too small to hold a station (and, north
of 58 degrees, any island without a railway's size); simplify the provinces as one coverage so
neighbours keep a shared border (no slivers or overlaps between provinces); cut the United
States out of Canada, so along the international border the Census line alone decides; quantize
to 1e-4 degree and delta-encode each ring.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import math
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-not-found]
import shapely  # type: ignore[import-not-found]
from shapely.geometry import MultiPolygon, Polygon  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]


def _load_regions() -> Any:
    """tipline/locations/regions.py on its own (standard library only), without the app."""
    spec = importlib.util.spec_from_file_location("regions", ROOT / "tipline/locations/regions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["regions"] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


regions = _load_regions()

TARGET = ROOT / "tipline" / "locations" / "data" / "boundaries.json.gz"
US_ATLAS = "us-atlas@3.0.1"
CANADA = "coord2loc-can==0.0.1"
SCALE = 10_000  # coordinates kept to 1e-4 degree (about 11 m): finer than either source
# Visvalingam tolerance (square root of the smallest triangle kept, in degrees): about the
# precision of us-atlas's quantization, so both countries' lines are about as exact.
CANADA_TOLERANCE = 0.004
# No station stands on a speck of rock; in the far north only large land carries a railway.
MIN_ISLAND_KM2 = 5.0
MIN_NORTHERN_ISLAND_KM2 = 3000.0
NORTH = 58.0
# The territories have no land border a railway crosses but long, intricate coasts.
TERRITORY_TOLERANCE = 0.05
US_ALIASES = {
    "Commonwealth of the Northern Mariana Islands": "MP",
    "United States Virgin Islands": "VI",
}


def main() -> None:
    """Fetch the two pinned packages, derive the compact file, and write it."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(["npm", "pack", US_ATLAS, "--silent"], cwd=work, check=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", ".", CANADA],
            cwd=work,
            check=True,
        )
        states = _us_states(next(work.glob("us-atlas-*.tgz")))
        provinces = _provinces(next(work.glob("coord2loc_can-*.whl")))
    nation = shapely.union_all(list(states.values()))
    provinces = {code: geom.difference(nation) for code, geom in provinces.items()}
    data = {
        "about": (
            "State and province boundaries for locating stations; derived by "
            "tools/build_boundaries.py. US: Census Bureau cartographic boundaries 2017 via "
            "us-atlas 3.0.1 (public domain). Canada: Statistics Canada via geoBoundaries CAN "
            "ADM1 in coord2loc-can 0.0.1 (Open Government Licence - Canada; geoBoundaries CC BY "
            "4.0). See tipline/locations/data/README.md."
        ),
        "scale": SCALE,
        "regions": {code: _rings(geom) for code, geom in sorted({**states, **provinces}.items())},
    }
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    buffer = io.BytesIO()
    # mtime 0: the same sources give byte-identical output.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as out:
        out.write(raw)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_bytes(buffer.getvalue())
    vertices = sum(len(r) // 2 for rings in data["regions"].values() for r in rings)
    print(
        f"{TARGET.relative_to(ROOT)}: {len(data['regions'])} regions, {vertices} vertices, "
        f"{len(buffer.getvalue())} bytes"
    )


def _us_states(tgz: Path) -> dict[str, Any]:
    """The states collection of us-atlas's states-10m.json, by USPS code."""
    with tarfile.open(tgz) as archive:
        member = archive.extractfile("package/states-10m.json")
        assert member is not None
        topo = json.load(member)
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)

    def ring(indices: list[int]) -> list[tuple[float, float]]:
        points: list[tuple[float, float]] = []
        for index in indices:
            arc = arcs[index] if index >= 0 else arcs[~index][::-1]
            points.extend(arc if not points else arc[1:])
        return points

    states = {}
    for geometry in topo["objects"]["states"]["geometries"]:
        name = geometry["properties"]["name"]
        code = US_ALIASES.get(name) or regions.code_for_name("US", name)
        if code is None:
            raise SystemExit(f"us-atlas names a state regions.py does not know: {name}")
        parts = [geometry["arcs"]] if geometry["type"] == "Polygon" else geometry["arcs"]
        states[code] = MultiPolygon(
            [Polygon(ring(part[0]), [ring(hole) for hole in part[1:]]) for part in parts]
        )
    missing = regions.US - states.keys()
    if missing:
        raise SystemExit(f"us-atlas lacks {', '.join(sorted(missing))}")
    return states


def _provinces(wheel: Path) -> dict[str, Any]:
    """The Canadian provinces and territories, simplified as one coverage, by postal code."""
    with zipfile.ZipFile(wheel) as archive:
        meta = msgpack.unpackb(zlib.decompress(archive.read("coord2loc_can/data/meta.msgpack")))
        wkbs = msgpack.unpackb(zlib.decompress(archive.read("coord2loc_can/data/polygons.msgpack")))
    codes = []
    geoms = []
    for info, wkb in zip(meta, wkbs, strict=True):
        name = info["administrative_region"]
        code = regions.code_for_name("CA", name)
        if code is None:
            raise SystemExit(f"geoBoundaries names a province regions.py does not know: {name}")
        geom = shapely.from_wkb(wkb.strip())
        parts = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
        codes.append(code)
        geoms.append(MultiPolygon([p for p in parts if _km2(p) >= _min_km2(p)]))
    simplified = shapely.coverage_simplify(geoms, CANADA_TOLERANCE)
    out = {}
    for code, geom in zip(codes, simplified, strict=True):
        if regions.REGIONS[code].kind is regions.Kind.TERRITORY:
            geom = shapely.simplify(geom, TERRITORY_TOLERANCE, preserve_topology=True)
        out[code] = shapely.make_valid(geom)
    if set(out) != regions.CANADA:
        raise SystemExit(f"geoBoundaries lacks {', '.join(sorted(regions.CANADA - set(out)))}")
    return out


def _km2(polygon: Any) -> float:
    return float(polygon.area) * 111.32 * 110.57 * math.cos(math.radians(polygon.centroid.y))


def _min_km2(polygon: Any) -> float:
    return MIN_NORTHERN_ISLAND_KM2 if polygon.bounds[1] > NORTH else MIN_ISLAND_KM2


def _rings(geom: Any) -> list[list[int]]:
    """Every ring (outer and holes alike: the reader counts crossings even-odd), as
    [x0, y0, dx1, dy1, ...] in 1e-4 degree, consecutive duplicates dropped."""
    polygons = [
        g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")
    ]
    rings = []
    for polygon in polygons:
        for part in getattr(polygon, "geoms", [polygon]):
            for ring in (part.exterior, *part.interiors):
                points: list[tuple[int, int]] = []
                for x, y in ring.coords:
                    q = (round(x * SCALE), round(y * SCALE))
                    if not points or points[-1] != q:
                        points.append(q)
                if len(points) < 4:
                    continue
                flat = [points[0][0], points[0][1]]
                for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
                    flat.extend((x1 - x0, y1 - y0))
                rings.append(flat)
    return rings


if __name__ == "__main__":
    main()
