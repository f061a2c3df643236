"""``GET /api/v1/agents/<name>/config``: the agent's own assignment, nothing else, ETag/304."""

from __future__ import annotations

import json
import os
import time

from nms.config import ROOT
from probes.common.assignment import decode, etag_of
from probes.common.inventory import load_inventory
from tests.auth.helpers import app_db, bearer, make_app, make_token, role_client
from tests.support.processes import SNMP_SECRETS

URL = "/api/v1/agents/{}/config"


def test_agent_gets_its_own_devices_and_no_secret(tmp_path, monkeypatch):
    for key, value in SNMP_SECRETS.items():  # present in the centre's environment: still never sent
        monkeypatch.setenv(key, value)
    app = make_app(tmp_path)
    db = app_db(app)
    raw = make_token(db, "agent", "chaohu")
    inv = load_inventory(app.config["NMS_SETTINGS"].inventory_path)
    resp = app.test_client().get(URL.format("chaohu"), headers=bearer(raw))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_data()
    etag = resp.headers["ETag"].strip('"')
    assert etag == etag_of(body)
    assert resp.headers["Date"]
    got = decode(body, "chaohu", resp.headers["ETag"])
    mine = {d.name for d in inv.devices_of_agent("chaohu")}
    assert {d.name for d in got.devices} == mine and mine
    assert {d.site for d in got.devices} <= set(inv.agents["chaohu"].sites)
    assert {s.id for s in got.sites} == set(inv.agents["chaohu"].sites)
    others = {d.name for d in inv.devices.values()} - mine
    text = body.decode()
    assert not any(f'"{name}"' in text for name in others)  # no other agent's device, even by name
    for secret in SNMP_SECRETS.values():
        assert secret not in text
    creds = {c.name: c for c in got.credentials}
    assert set(creds) == {d.credential for d in got.devices}
    assert all(c.community_env or c.auth_key_env for c in creds.values())  # references, by variable name
    # what the agent cannot compute alone comes ready-made
    cipher = next(d for d in got.devices if d.role == "cipher" and d.expected_peers)
    assert all(p.count(".") == 3 for p in cipher.expected_peers)
    assert any(d.wan_end for d in got.devices)
    assert all(d.sim_address.startswith("127.34.") for d in got.devices)
    part = got.inventory()  # the agent's part, with the simulated addresses of the whole province
    assert set(part.devices) == mine and all(part.sim_address(n) == inv.sim_address(n) for n in mine)


def test_etag_gives_304_and_changes_with_the_inventory(tmp_path):
    inv_path = tmp_path / "inventory.yaml"
    inv_path.write_text((ROOT / "inventory.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    app = make_app(tmp_path, inventory_path=inv_path)
    raw = make_token(app_db(app), "agent", "chaohu")
    client = app.test_client()
    first = client.get(URL.format("chaohu"), headers=bearer(raw))
    etag = first.headers["ETag"]
    again = client.get(URL.format("chaohu"), headers={**bearer(raw), "If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    # a change to one of chaohu's devices changes chaohu's answer
    dev = json.loads(first.get_data())["devices"][0]["name"]
    text = inv_path.read_text(encoding="utf-8")
    marker = f"{{name: {dev}, "
    assert marker in text
    inv_path.write_text(text.replace(marker, marker + "interval_s: 30, ", 1), encoding="utf-8")
    st = inv_path.stat()
    os.utime(inv_path, (st.st_atime, st.st_mtime + 5))
    changed = client.get(URL.format("chaohu"), headers={**bearer(raw), "If-None-Match": etag})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.headers["ETag"] != etag
    assert next(d for d in changed.json["devices"] if d["name"] == dev)["interval_s"] == 30


def test_another_agents_token_is_refused(tmp_path):
    app = make_app(tmp_path)
    db = app_db(app)
    hefei = make_token(db, "agent", "hefei")
    client = app.test_client()
    resp = client.get(URL.format("chaohu"), headers=bearer(hefei))
    assert resp.status_code == 403
    assert "hefei" in resp.json["error"] and "devices" not in resp.json
    assert client.get(URL.format("chaohu")).status_code == 401
    admin = role_client(app, "administrator", "anhui")
    assert admin.get(URL.format("chaohu")).status_code == 403  # a person is not an agent
    assert client.get(URL.format("hefei"), headers=bearer(hefei)).status_code == 200


def test_an_agent_clock_minutes_apart_is_logged_by_the_centre(tmp_path, caplog):
    app = make_app(tmp_path)
    raw = make_token(app_db(app), "agent", "chaohu")
    client = app.test_client()
    with caplog.at_level("WARNING", logger="nms.agentconfig"):
        near = client.get(URL.format("chaohu"), headers={**bearer(raw), "X-Agent-Time": str(time.time() - 5)})
        assert near.status_code == 200 and not caplog.records
        far = client.get(
            URL.format("chaohu"), headers={**bearer(raw), "X-Agent-Time": str(time.time() - 600)}
        )
    assert far.status_code == 200
    assert any(
        "agent chaohu" in r.getMessage() and "10.0 minutes behind" in r.getMessage() for r in caplog.records
    )
    # ... and kept for `nms doctor`, which names the agent and how far apart the clocks are
    from nms import clockskew
    from nms.doctor import check_agents

    db = app_db(app)
    try:
        (clock,) = clockskew.agent_clocks(db)
    finally:
        db.conn.close()
    assert clock.agent == "chaohu" and -610 < clock.skew_s < -590
    tree = load_inventory(ROOT / "inventory.yaml")
    found = {c.what: c for c in check_agents(app.config["NMS_SETTINGS"], tree, time.time(), 600)}
    assert found["clock of agent chaohu"].level == "warn"
    assert "10.0 min behind the centre's" in found["clock of agent chaohu"].detail
    assert "clocks" not in found  # no "all in step" while one is not
