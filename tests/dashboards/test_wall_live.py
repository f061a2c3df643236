"""The wall on the real pipeline: simulated province -> agent -> centre (waitress) -> SSE -> Chromium.

A small inventory subset (the province, the city of Huaibei and one county) is served by
the simulator, polled every 2 s by a real ``agent.py run``, pushed to the centre; then a
failure of the SDH link sdh-huaibei is injected through the simulator's control API and
the open wall page must turn that link red and list it, without reloading.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from probes.common.inventory import load_inventory
from probes.sim.control import send_fault
from tests.auth.helpers import app_db, make_app, make_token
from tests.dashboards.browser import ROOT, chromium, need_browser, serve, shot, wait_for, wait_until

SITES = {"anhui", "huaibei", "huaibei-suixi"}
LINK = "sdh-huaibei"
AGENT = "wall"


def subset_inventory(path: Path) -> Path:
    raw = yaml.safe_load((ROOT / "inventory.yaml").read_text(encoding="utf-8"))
    devices = [d for d in raw["devices"] if d["site"] in SITES]
    names = {d["name"] for d in devices}

    def dev(end):
        return end["device"] if isinstance(end, dict) else end.split(":")[0]

    raw["sites"] = [s for s in raw["sites"] if s["id"] in SITES]
    raw["devices"] = devices
    raw["links"] = [lk for lk in raw["links"] if dev(lk["a"]) in names and dev(lk["b"]) in names]
    raw.pop("portals", None)  # devices only: the portals name sites and agents left out
    raw["agents"] = [{"name": AGENT, "token_env": "NMS_AGENT_TOKEN_WALL", "sites": sorted(SITES)}]
    out = path / "inventory.yaml"
    out.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=open(log, "wb"),  # noqa: SIM115
        text=True,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wall(base: str, token: str) -> dict:
    req = urllib.request.Request(f"{base}/api/v1/wall", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def _edge_state(doc: dict, link_id: str) -> str | None:
    for e in doc["edges"]:
        for lk in e["links"]:
            if lk["id"] == link_id:
                return lk["state"]
    return None


def test_injected_link_failure_reaches_the_open_wall(tmp_path, monkeypatch):
    need_browser()
    inv_path = subset_inventory(tmp_path)
    inv = load_inventory(inv_path)
    assert LINK in inv.links and len(inv.devices) == 28
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        NMS_SNMP_COMMUNITY=secrets.token_urlsafe(12),
        NMS_SNMP_V3_AUTH=secrets.token_urlsafe(12),
        NMS_SNMP_V3_PRIV=secrets.token_urlsafe(12),
        NMS_DATA_DIR=str(tmp_path / "agent-data"),
    )
    env.pop("NMS_ALLOW_NETWORK", None)
    app = make_app(tmp_path, inventory=inv)
    db = app_db(app)
    try:
        agent_token = make_token(db, "agent", AGENT)
        kiosk = make_token(db, "kiosk")
    finally:
        db.conn.close()

    sim = _start(
        [
            sys.executable,
            "-m",
            "probes.sim",
            "serve",
            "--inventory",
            str(inv_path),
            "--port",
            "0",
            "--control-port",
            "0",
            "--wan-delay-ms",
            "0",
        ],
        env,
        tmp_path / "sim.log",
    )
    procs = [sim]
    try:
        ready = json.loads(sim.stdout.readline() or "{}")
        assert ready.get("ready"), (tmp_path / "sim.log").read_text()[-2000:]
        with serve(app) as base, chromium() as browser:
            agent = _start(
                [
                    sys.executable,
                    "agent.py",
                    "run",
                    "--inventory",
                    str(inv_path),
                    "--agent",
                    AGENT,
                    "--centre",
                    base,
                    "--sim-port",
                    str(ready["port"]),
                    "--interval-override",
                    "2",
                    "--batch-interval",
                    "1",
                    "--no-jitter",
                    "--spool-dir",
                    str(tmp_path / "spool"),
                    "--metrics-listen",
                    "off",
                    "--snmp-timeout",
                    "1",
                    "--snmp-retries",
                    "0",
                ],
                dict(env, NMS_AGENT_TOKEN_WALL=agent_token),
                tmp_path / "agent.log",
            )
            procs.append(agent)
            wait_for(
                lambda: _edge_state(_wall(base, kiosk), LINK) == "up",
                90,
                f"{LINK} up at the centre (agent log: {tmp_path / 'agent.log'})",
            )

            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"{base}/wall?kiosk={kiosk}&pages=map")
            wait_until(page, "window.nmsWall && nmsWall.source === 'sse'", 20, "the wall on SSE")
            assert page.evaluate("nmsWall.edgeStyle('sdh-huaibei').state") == "up"
            page.evaluate("window.__sameDocument = true")
            renders = page.evaluate("nmsWall.renders")

            t_fault = time.monotonic()
            send_fault(ready["control"], "link-down", LINK)
            wait_for(
                lambda: _edge_state(_wall(base, kiosk), LINK) == "down", 60, f"{LINK} down at the centre"
            )
            t_centre = time.monotonic()
            wait_until(
                page,
                "nmsWall.edgeStyle('sdh-huaibei').state === 'down'",
                10,
                "the wall to show the link down within 10 s of the centre",
            )
            t_wall = time.monotonic()
            style = page.evaluate("nmsWall.edgeStyle('sdh-huaibei')")
            assert style["color"] == page.evaluate("nmsWall.colors.down")
            wait_until(
                page,
                "document.getElementById('alerts').textContent.includes('sdh-huaibei')",
                10,
                "the alert in the list",
            )
            assert page.evaluate("window.__sameDocument === true")  # no reload happened
            assert page.evaluate("nmsWall.renders") > renders
            print(
                f"\nlive wall: fault->centre {t_centre - t_fault:.1f}s, centre->wall {t_wall - t_centre:.1f}s"
            )
            page.wait_for_timeout(700)
            shot(page, "wall-live-link-down-1920x1080")
            send_fault(ready["control"], "link-up", LINK)
    finally:
        for p in reversed(procs):
            _stop(p)
