"""/api/v1/wall and its stream: what the wall is told, per principal, and when."""

from __future__ import annotations

import json

from dashboards import sse
from dashboards.views import feed_of
from tests.auth.helpers import role_client
from tests.dashboards.conftest import fill, kiosk_client


def test_anonymous_gets_401_and_kiosk_gets_the_province(wall_app):
    assert wall_app.test_client().get("/api/v1/wall").status_code == 401
    client, _ = kiosk_client(wall_app)
    resp = client.get("/api/v1/wall")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["server_time"] > 0 and doc["as_of"] is not None
    assert len([n for n in doc["nodes"] if n["kind"] == "city"]) == 17
    assert len([e for e in doc["edges"] if e["sdh"]]) == 17
    edge = next(e for e in doc["edges"] if any(lk["id"] == "sdh-huaibei" for lk in e["links"]))
    assert edge["state"] == "down" and edge["source"] == "anhui" and edge["target"] == "huaibei"
    problems = doc["problems"]
    assert problems["source"] == "state"
    assert problems["items"][0]["id"] == "link:sdh-huaibei"  # the SDH outage is the most severe
    assert problems["items"][0]["severity"] == "critical"
    suixi = next(p for p in problems["items"] if p["id"] == "device:suixi-int-rtr1")
    # behind the cut SDH link: down (major) or, with the shared topology, unreachable (minor)
    assert (suixi["state"], suixi["severity"]) in (("down", "major"), ("unreachable", "minor"))
    sdh = doc["sdh"]
    assert len(sdh) == 17 and sdh[0]["load_pct"] >= sdh[-1]["load_pct"] or sdh[-1]["load_pct"] is None
    down_row = next(r for r in sdh if r["link"] == "sdh-huaibei")
    assert down_row["state"] == "down" and down_row["load_pct"] == 0.0
    avail = doc["availability"]
    assert len(avail["cities"]) == 17
    huaibei = next(c for c in avail["cities"] if c["site"] == "huaibei")
    assert huaibei["today"] is not None and huaibei["today"] < 100.0
    assert avail["backbone"]["today"] < 100.0


def test_county_admin_sees_only_their_county(wall_app):
    client = role_client(wall_app, "county_admin", "huaibei-suixi")
    doc = client.get("/api/v1/wall").get_json()
    assert {n["id"] for n in doc["nodes"]} == {"huaibei-suixi"}
    assert all(p["site"] == "huaibei-suixi" for p in doc["problems"]["items"])
    assert doc["problems"]["total"] >= 1
    assert doc["sdh"] == [] and doc["edges"] == []
    assert sum(doc["summary"]["devices"].values()) == 7


def test_kiosk_bound_to_a_city_sees_that_city(wall_app):
    client, _ = kiosk_client(wall_app, site="huaibei")
    doc = client.get("/api/v1/wall").get_json()
    ids = {n["id"] for n in doc["nodes"]}
    assert "huaibei" in ids and "anhui" not in ids and "hefei" not in ids
    assert {p["site"] for p in doc["problems"]["items"]} <= ids


def test_document_is_cached_until_the_state_changes(wall_app, full_inventory):
    feed = feed_of(wall_app)
    d1, doc1 = feed.get(None)
    d2, doc2 = feed.get(None)
    assert (d1, doc1) == (d2, doc2)
    fill(wall_app, full_inventory, 3)  # everything back up
    d3, doc3 = feed.get(None)
    assert d3 != d1
    assert json.loads(doc3)["problems"]["total"] == 0


def test_stream_sends_once_per_change_and_heartbeats(wall_app, full_inventory):
    feed = feed_of(wall_app)
    cfg = sse.StreamConfig(poll_s=0.0, heartbeat_s=0.0, max_age_s=3600)
    ticks = []

    def sleep(_s: float) -> None:
        ticks.append(1)
        if len(ticks) == 3:
            fill(wall_app, full_inventory, 3)

    gen = sse.stream(feed, None, cfg, sleep=sleep)
    chunks = [next(gen) for _ in range(7)]
    gen.close()
    assert chunks[0].startswith("retry:")
    walls = [c for c in chunks if c.startswith("event: wall")]
    beats = [c for c in chunks if c.startswith("event: heartbeat")]
    assert len(walls) == 2 and len(beats) >= 3
    first = json.loads(walls[0].split("data: ", 1)[1])
    second = json.loads(walls[1].split("data: ", 1)[1])
    assert first["problems"]["total"] > 0 and second["problems"]["total"] == 0


def test_stream_resumes_without_resending_what_the_client_has(wall_app):
    feed = feed_of(wall_app)
    digest, _ = feed.get(None)
    cfg = sse.StreamConfig(poll_s=0.0, heartbeat_s=0.0, max_age_s=3600)
    gen = sse.stream(feed, None, cfg, last_id=digest, sleep=lambda s: None)
    chunks = [next(gen) for _ in range(3)]
    gen.close()
    assert not any(c.startswith("event: wall") for c in chunks)


def test_stream_endpoint_refuses_beyond_the_limit(wall_app):
    wall_app.config["NMS_WALL_STREAM"] = sse.StreamConfig(
        max_streams=1, kiosk_streams=1, poll_s=0.01, max_age_s=0.05
    )
    viewer = role_client(wall_app, "viewer", "anhui", name="v1")
    first = viewer.get("/api/v1/wall/stream", buffered=False)
    assert first.status_code == 200 and first.mimetype == "text/event-stream"
    second = role_client(wall_app, "viewer", "anhui", name="v2").get("/api/v1/wall/stream")
    assert second.status_code == 503 and "all 1 in use" in second.get_json()["error"]
    body = b"".join(first.response)
    first.close()
    assert b"event: wall" in body and b"event: bye" in body
    third = role_client(wall_app, "viewer", "anhui", name="v2").get("/api/v1/wall/stream", buffered=False)
    assert third.status_code == 200  # the slot was given back when the first stream closed
    third.close()


def test_one_viewer_cannot_hold_the_pool_and_the_kiosk_always_streams(wall_app):
    wall_app.config["NMS_WALL_STREAM"] = sse.StreamConfig(
        max_streams=4, max_per_principal=2, kiosk_streams=1, poll_s=0.01, max_age_s=60
    )
    held = []
    v1 = role_client(wall_app, "viewer", "anhui", name="v1")
    for _ in range(2):
        held.append(v1.get("/api/v1/wall/stream", buffered=False))
    refused = v1.get("/api/v1/wall/stream")  # the same person again, even with the pool half free
    assert refused.status_code == 503 and "at most 2 each" in refused.get_json()["error"]
    v2 = role_client(wall_app, "viewer", "anhui", name="v2")
    for _ in range(2):
        held.append(v2.get("/api/v1/wall/stream", buffered=False))
    assert [r.status_code for r in held] == [200] * 4  # the shared pool is full now
    v3 = role_client(wall_app, "viewer", "anhui", name="v3").get("/api/v1/wall/stream")
    assert v3.status_code == 503 and "all 4 in use" in v3.get_json()["error"]
    kiosk, _ = kiosk_client(wall_app)
    wall = kiosk.get("/api/v1/wall/stream", buffered=False)
    assert wall.status_code == 200 and wall.mimetype == "text/event-stream"
    assert next(iter(wall.response)).startswith(b"retry:")
    for r in [*held, wall]:
        r.close()
    again = v1.get("/api/v1/wall/stream", buffered=False)
    assert again.status_code == 200  # all slots given back
    again.close()


def test_limiter_keeps_kiosk_slots_and_bounds_the_total():
    lim = sse.StreamLimiter(1, per_principal=2, kiosk_slots=1)
    a = lim.acquire("kiosk:kiosk-1", kiosk=True)  # the reserved slot
    b = lim.acquire("kiosk:kiosk-2", kiosk=True)  # spills into the shared pool
    assert callable(a) and callable(b)
    assert isinstance(lim.acquire("kiosk:kiosk-3", kiosk=True), str)  # everything is taken
    assert isinstance(lim.acquire("user:v1"), str)
    b()
    b()  # releasing twice gives back one slot only
    v1 = lim.acquire("user:v1")
    assert callable(v1) and isinstance(lim.acquire("user:v2"), str)
    a()
    assert isinstance(lim.acquire("user:v2"), str)  # the kiosk slot is not for viewers
    assert (lim.open, lim.kiosk_open, lim.by_principal) == (1, 0, {"user:v1": 1})


def test_outline_is_geojson_of_the_cities(wall_app):
    client, _ = kiosk_client(wall_app)
    fc = client.get("/api/v1/wall/outline").get_json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 16
    wall_app.config["NMS_WALL_OUTLINE"] = False
    assert client.get("/api/v1/wall/outline").status_code == 404


def test_a_county_whose_internal_network_is_down_is_not_green_and_names_both_networks(wall_app):
    """suixi-int-rtr1 (专网) is down behind the cut SDH link; suixi-ext-rtr1 (外网) answers."""
    client, _ = kiosk_client(wall_app)
    doc = client.get("/api/v1/wall").get_json()
    suixi = next(n for n in doc["nodes"] if n["id"] == "huaibei-suixi")
    internal, external = suixi["networks"]["internal"], suixi["networks"]["external"]
    assert internal["state"] in ("down", "unreachable")  # its router is, whatever its switch says
    assert external["state"] == "up" and external["reason"] is None
    assert (internal["devices_total"], external["devices_total"]) == (4, 3)
    assert internal["devices_up"] + external["devices_up"] == suixi["devices_up"]
    # the node's own state (what the wall colours) is the worse of the two, never "degraded"/"up"
    assert suixi["state"] == internal["state"]
    assert suixi["reason"].startswith(f"专网 internal {internal['state']}")
    assert "外网 external up" in suixi["reason"]
    # a county with both networks up says so
    duji = next(n for n in doc["nodes"] if n["id"] == "huaibei-duji")
    assert {k: v["state"] for k, v in duji["networks"].items()} == {"internal": "up", "external": "up"}
    assert duji["state"] == "up" and duji["reason"] is None


def test_time_series_engine_down_keeps_the_wall_true_and_charts_say_503(wall_app):
    """NMS_TSDB_URL pointing at an engine that refuses connections (a real closed loopback port):
    the wall still shows what is down, link load becomes unknown with a banner saying why, and
    a chart answers 503 naming the cause instead of a bare 500."""
    from tests.probes.helpers import free_udp_port  # any free number; nothing listens on it over TCP

    wall_app.config["NMS_SETTINGS"].tsdb_url = f"http://127.0.0.1:{free_udp_port()}"
    client, _ = kiosk_client(wall_app)
    resp = client.get("/api/v1/wall")
    assert resp.status_code == 200
    doc = resp.get_json()
    edge = next(e for e in doc["edges"] if any(lk["id"] == "sdh-huaibei" for lk in e["links"]))
    assert edge["state"] == "down"  # state comes from centre.db, not from the engine
    assert all(r["load_pct"] is None for r in doc["sdh"])  # no load is invented
    assert any("time-series store unreachable" in d for d in doc["degraded"])
    admin = role_client(wall_app, "operator", "anhui")
    resp = admin.get("/api/v1/series?device=hefei-int-rtr1&interface=GigabitEthernet0/0/1")
    assert resp.status_code == 503
    assert "time series unavailable" in resp.get_json()["error"]
    assert resp.headers["Retry-After"] == "30"
