"""The storm again with real agent subprocesses (agent.py run) instead of in-test polling.

The Chaohu agent reaches the centre through a TCP forwarder standing for its uplink;
cutting the SDH link cuts the forwarder too, so the agent spools and replays as it
would in the field.  Slow (agents poll every 2 s): ``pytest -m slow tests/alerts``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from nms.alerts.engine import Engine
from nms.alerts.outbox import Outbox
from nms.config import ROOT, Settings
from probes.common.inventory import load_inventory
from tests.alerts.conftest import make_channels, make_rules
from tests.alerts.peers import HttpReceiver
from tests.alerts.proxy import CuttableProxy
from tests.alerts.test_storm import COUNTY_ROUTER, RULES
from tests.auth.helpers import app_db, make_token

pytestmark = pytest.mark.slow
CITY = "chaohu"
SECRETS = {
    "NMS_SNMP_COMMUNITY": "agents-community",
    "NMS_SNMP_V3_AUTH": "agents-auth-123",
    "NMS_SNMP_V3_PRIV": "agents-priv-456",
    "NMS_TEST_HOOK_KEY": "agents-hook",
}


def write_subset(path) -> None:
    raw = yaml.safe_load((ROOT / "inventory.yaml").read_text(encoding="utf-8"))
    full = load_inventory(ROOT / "inventory.yaml")
    sites = {"anhui"} | full.subtree(CITY)
    raw["sites"] = [s for s in raw["sites"] if s["id"] in sites]
    raw["devices"] = [d for d in raw["devices"] if d["site"] in sites]
    names = {d["name"] for d in raw["devices"]}

    def dev(end) -> str:
        return end["device"] if isinstance(end, dict) else end.split(":", 1)[0]

    raw["links"] = [lk for lk in raw["links"] if dev(lk["a"]) in names and dev(lk["b"]) in names]
    raw.pop("portals", None)  # devices only: the portals name sites and agents left out
    raw["agents"] = [
        dict(a, sites=["anhui"]) if a["name"] == "province" else a
        for a in raw["agents"]
        if a["name"] in ("province", CITY)
    ]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")


def wait(cond, timeout: float = 90.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(every)
    raise AssertionError("condition not reached within the bound")


def test_sdh_cut_with_agent_subprocesses(tmp_path, monkeypatch, database_url):
    from nms.server import create_app
    from probes.sim import SimulatedProvince
    from tests.support.inproc_server import start, stop

    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    inv_path = tmp_path / "inventory.yaml"
    write_subset(inv_path)
    inv = load_inventory(inv_path)
    sim = SimulatedProvince(inv, port=0).start()
    settings = Settings(
        data_dir=tmp_path / "var", inventory_path=inv_path, testing=True, database_url=database_url
    )
    app = create_app(settings)
    app.config["NMS_INVENTORY"] = inv
    srv, srv_thread = start(app)
    db = app_db(app)
    tokens = {a: make_token(db, "agent", a) for a in inv.agents}
    uplink = CuttableProxy(srv.effective_port)
    centre = f"http://127.0.0.1:{srv.effective_port}"
    hook = HttpReceiver().start()
    procs = []
    try:
        for agent in ("province", CITY):
            env = dict(os.environ, **{inv.agents[agent].token_env: tokens[agent]})
            cmd = [
                sys.executable,
                str(ROOT / "agent.py"),
                "run",
                "--inventory",
                str(inv_path),
                "--agent",
                agent,
                "--centre",
                uplink.url if agent == CITY else centre,
                "--sim-port",
                str(sim.port),
                "--interval-override",
                "2",
                "--no-jitter",
                "--batch-interval",
                "1",
                "--metrics-listen",
                "off",
                "--spool-dir",
                str(tmp_path / f"spool-{agent}"),
                "--snmp-timeout",
                "0.5",
                "--snmp-retries",
                "0",
                "--backoff-max",
                "2",
                "--log-level",
                "warning",
                "--shutdown-grace",
                "2",
                "--flush-timeout",
                "1",
            ]
            procs.append(
                subprocess.Popen(
                    cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{agent}.log", "w")
                )
            )  # noqa: SIM115
        # agent-silent must outlast the detection of the uplink failure (2 polls + a batch), as
        # the shipped 300 s do against 30-60 s polling; otherwise it pages before its root cause is known
        # likewise a tunnel across the cut link: the shipped rule holds it 120 s (grace_s) so the
        # link's own loss-of-signal, seen on the next poll, becomes its root before anyone is paged
        rules = [
            dict(r, silent_s=10)
            if r["kind"] == "agent_silent"
            else dict(r, grace_s=10)
            if r["name"] == "tunnel-down"
            else r
            for r in RULES
        ]
        engine = Engine(make_rules(rules), inv, make_channels(hook.url + "/hook"))
        n = len(inv.devices)
        wait(
            lambda: (
                db.execute(
                    "SELECT COUNT(*) FROM state_current WHERE kind = 'device' AND state = 'up'"
                ).fetchone()[0]
                == n
            )
        )
        engine.evaluate(db)
        assert db.execute("SELECT COUNT(*) FROM alert_alerts").fetchone()[0] == 0
        up_before = set(
            db.execute(
                "SELECT kind, subject FROM state_current WHERE kind IN ('link', 'tunnel') AND state = 'up'"
            ).fetchall()
        )
        assert any(kind == "tunnel" for kind, _ in up_before)

        sim.fault("link-down", f"sdh-{CITY}")
        uplink.set_cut(True)

        def cut_seen():
            engine.evaluate(db)
            return db.execute(
                "SELECT COUNT(*) FROM alert_alerts WHERE rule = 'agent-silent' AND root_id IS NOT NULL"
                " AND state = 'firing'"
            ).fetchone()[0]

        wait(cut_seen)
        Outbox(engine.channels).run_once(db)
        pages = [json.loads(r.body) for r in hook.requests]
        assert [(p["rule"], p["subject_id"]) for p in pages] == [("link-down", f"sdh-{CITY}")]
        children = json.loads(
            db.execute("SELECT children FROM alert_alerts WHERE rule = 'link-down'").fetchone()[0]
        )
        assert COUNTY_ROUTER in {c["id"] for c in children if c["state"] == "unreachable (parent)"}

        sim.fault("link-up", f"sdh-{CITY}")
        uplink.set_cut(False)
        # Let the network settle before evaluating again: the link and every tunnel up again in
        # the state.  A tunnel the state still holds down one batch after its root link came
        # back is paged on its own (its grace ran out during the cut): see the closing note.
        wait(
            lambda: (
                up_before
                <= set(db.execute("SELECT kind, subject FROM state_current WHERE state = 'up'").fetchall())
            )
        )
        sim.fault("device-down", COUNTY_ROUTER)

        def router_pages():
            engine.evaluate(db)
            Outbox(engine.channels).run_once(db)
            return [(json.loads(r.body)["event"], json.loads(r.body)["subject_id"]) for r in hook.requests]

        got = wait(lambda: (p := router_pages()) and ("firing", COUNTY_ROUTER) in p and p)
        assert got == [("firing", f"sdh-{CITY}"), ("resolved", f"sdh-{CITY}"), ("firing", COUNTY_ROUTER)]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        uplink.close()
        hook.stop()
        stop(srv, srv_thread)
        sim.stop()
        db.conn.close()
