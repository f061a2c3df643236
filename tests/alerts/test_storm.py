"""Storm on the simulated province: real SNMP polls -> real ingest over HTTP -> state -> alerts.

Province centre + 巢湖 Chaohu and its five counties from the shipped inventory, served
by probes.sim.  Two agents as in the inventory (province, chaohu) poll the simulator
with probes.poller and push batches to the centre (Flask app under waitress on a free
port).  Cutting the SDH link province<->Chaohu partitions the network: the Chaohu
agent's batches cannot reach the centre (they are held and replayed afterwards, as
the agent's spool would), and the centre sees LOS at its end of the link.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from dataclasses import replace

import pytest

from nms import sdh
from nms.alerts.engine import Engine
from nms.alerts.outbox import Outbox
from nms.config import ROOT, Settings
from nms.schema import open_migrated
from probes.common import topology
from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory
from tests.alerts.conftest import make_channels, make_rules
from tests.alerts.peers import HttpReceiver
from tests.auth.helpers import app_db, make_token

CITY = "chaohu"
COUNTY_ROUTER = "lujiang-int-rtr1"
PROVINCE_END = "anhui-int-rtr1:Pos1/0/6"  # the province's end of sdh-chaohu
RULES = [
    {"name": "device-down", "kind": "state", "subject": "device", "severity": "critical"},
    {"name": "link-down", "kind": "state", "subject": "link", "severity": "critical"},
    {
        "name": "sdh-defect",
        "kind": "state",
        "subject": "interface",
        "reason_match": "^SDH",
        "severity": "critical",
    },
    {"name": "tunnel-down", "kind": "state", "subject": "tunnel", "severity": "major"},
    {"name": "agent-silent", "kind": "agent_silent", "silent_s": 5, "severity": "critical"},
]


def subset(full: Inventory, city: str) -> Inventory:
    sites = {"anhui"} | full.subtree(city)
    inv = Inventory(source=full.source)
    inv.sites = {k: v for k, v in full.sites.items() if k in sites}
    inv.devices = {k: v for k, v in full.devices.items() if v.site in sites}
    inv.links = {
        k: v for k, v in full.links.items() if v.a.device in inv.devices and v.b.device in inv.devices
    }
    inv.credentials = dict(full.credentials)
    inv.agents = {"province": replace(full.agents["province"], sites=("anhui",)), city: full.agents[city]}
    return inv


@pytest.fixture
def province(monkeypatch):
    monkeypatch.setenv("NMS_SNMP_COMMUNITY", "storm-community")
    monkeypatch.setenv("NMS_SNMP_V3_AUTH", "storm-auth-key-123")
    monkeypatch.setenv("NMS_SNMP_V3_PRIV", "storm-priv-key-456")
    monkeypatch.setenv("NMS_TEST_HOOK_KEY", "storm-hook-key")
    from probes.sim import SimulatedProvince

    inv = subset(load_inventory(ROOT / "inventory.yaml"), CITY)
    sim = SimulatedProvince(inv, port=0).start()
    yield inv, sim
    sim.stop()


@pytest.fixture
def centre(tmp_path, province, database_url):
    from nms.server import create_app
    from tests.support.inproc_server import start, stop

    inv, _ = province
    settings = Settings(data_dir=tmp_path / "var", inventory_path=tmp_path / "none.yaml", testing=True,
                        database_url=database_url)
    app = create_app(settings)
    app.config["NMS_INVENTORY"] = inv
    srv, t = start(app)
    db = app_db(app)
    tokens = {a: make_token(db, "agent", a) for a in inv.agents}
    db.conn.close()
    yield settings, f"http://127.0.0.1:{srv.effective_port}", tokens
    stop(srv, t)


class Agents:
    """Both agents: poll their devices on the simulator, push one batch each per round."""

    def __init__(self, inv: Inventory, sim, url: str, tokens: dict[str, str]) -> None:
        from probes.common.secrets import resolve
        from probes.poller import Poller

        self.inv, self.sim, self.url, self.tokens = inv, sim, url, tokens
        self.creds = {n: resolve(c) for n, c in inv.credentials.items()}
        self.poller = Poller(max_in_flight=64)
        self.expected = topology.build(inv).peers  # as the agent's jobs: both ends
        self.seq = {a: 0 for a in inv.agents}
        self.held: list[tuple[str, bytes]] = []

    async def _poll_all(self, names: list[str]) -> list[dict]:
        from probes.snmp import Target

        async def one(name: str) -> dict:
            d = self.inv.devices[name]
            target = Target(
                host=self.inv.sim_address(name),
                port=self.sim.port,
                credential=self.creds[d.credential],
                timeout=2.5,  # the simulator shares this process: time to answer on a busy machine
                retries=0,
                name=name,
            )
            peers = tuple(self.inv.devices[p].address for p in self.expected.get(name, ()))
            r = await self.poller.poll(target, profile=d.profile or "auto", expected_peers=peers)
            r["device"] = name
            return r

        return list(await asyncio.gather(*(one(n) for n in names)))

    def post(self, agent: str, body: bytes) -> dict:
        req = urllib.request.Request(
            f"{self.url}/api/v1/ingest",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {self.tokens[agent]}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def round(self, partitioned: bool = False, only: str | None = None) -> None:
        for agent in self.inv.agents:
            if only is not None and agent != only:
                continue
            names = sorted(d.name for d in self.inv.devices_of_agent(agent))
            samples = asyncio.run(self._poll_all(names))
            self.seq[agent] += 1
            body = json.dumps({"agent": agent, "seq": self.seq[agent], "samples": samples}).encode()
            if partitioned and agent == CITY:
                self.held.append((agent, body))  # its uplink is the cut link: spooled at the agent
                continue
            assert self.post(agent, body)["accepted"] == len(samples)

    def replay(self) -> None:
        for agent, body in self.held:
            self.post(agent, body)
        self.held.clear()


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_sdh_cut_pages_once_then_a_county_router_alerts_on_its_own(province, centre):
    inv, sim = province
    settings, url, tokens = centre
    hook = HttpReceiver().start()
    try:
        engine = Engine(make_rules(RULES), inv, make_channels(hook.url + "/hook"))
        agents = Agents(inv, sim, url, tokens)
        db = open_migrated(settings, "centre")
        for _ in range(2):
            agents.round()
        engine.evaluate(db)
        assert db.execute("SELECT COUNT(*) FROM alert_alerts").fetchone()[0] == 0

        sim.fault("link-down", f"sdh-{CITY}")
        last_city = time.time()
        for _ in range(2):
            agents.round(partitioned=True)
        time.sleep(max(0.0, last_city + 5.5 - time.time()))  # the city agent has been silent > silent_s
        agents.round(partitioned=True, only="province")  # the province agent keeps reporting
        engine.evaluate(db)
        Outbox(engine.channels).run_once(db)

        pages = [json.loads(r.body) for r in hook.requests]
        assert [(p["rule"], p["subject_id"]) for p in pages] == [("link-down", f"sdh-{CITY}")]
        # the one page is the SDH alarm: the link is down because the province end sees LOS
        (root,) = db.execute(
            "SELECT id, children, reason FROM alert_alerts WHERE rule = 'link-down'"
        ).fetchall()
        assert root[2] == f"SDH LOS at {PROVINCE_END}"
        (los,) = db.execute(
            "SELECT subject_id, state, root_id, notified, reason FROM alert_alerts WHERE rule = 'sdh-defect'"
        ).fetchall()
        assert los[:4] == (PROVINCE_END, "firing", root[0], 0) and los[4].startswith("SDH LOS")
        assert sdh.current(db)[PROVINCE_END]["section"] == ["LOS"]
        children = json.loads(root[1])
        lost = {c["id"] for c in children if c["state"] == "unreachable (parent)"}
        city_internal = {
            d.name for d in inv.devices.values() if d.site in inv.subtree(CITY) and d.network == "internal"
        }
        assert lost == city_internal and COUNTY_ROUTER in lost
        folded = {(c["rule"], c["id"]) for c in children if c["state"] == "suppressed"}
        assert ("agent-silent", CITY) in folded
        open_alerts = db.execute(
            "SELECT rule, subject_id, root_id FROM alert_alerts WHERE state = 'firing'"
        ).fetchall()
        assert all(r[2] == root[0] for r in open_alerts if r[0] != "link-down")

        # the link comes back, one county router stays down
        sim.fault("device-down", COUNTY_ROUTER)
        sim.fault("link-up", f"sdh-{CITY}")
        agents.replay()
        for _ in range(2):
            agents.round()
        engine.evaluate(db)
        Outbox(engine.channels).run_once(db)
        pages = [
            (json.loads(r.body)["event"], json.loads(r.body)["rule"], json.loads(r.body)["subject_id"])
            for r in hook.requests
        ]
        assert pages == [
            ("firing", "link-down", f"sdh-{CITY}"),
            ("resolved", "link-down", f"sdh-{CITY}"),
            ("firing", "device-down", COUNTY_ROUTER),
        ]
        still = db.execute(
            "SELECT rule, subject_id, root_id FROM alert_alerts WHERE state = 'firing'"
        ).fetchall()
        own = [r for r in still if r[2] is None]
        assert own == [("device-down", COUNTY_ROUTER, None)]
        assert "sdh-defect" not in {r[0] for r in still} and sdh.current(db)[PROVINCE_END]["defects"] == []
        # the cut is in the quarter-hour buckets too, once that quarter hour has been delivered
        assert db.execute("SELECT COUNT(*) FROM state_sdh_pm WHERE device || ':' || interface = ?",
                          (PROVINCE_END,)).fetchone()[0] >= 3 * 96  # a day of buckets, three layers
        db.conn.close()
    finally:
        hook.stop()


def test_interface_toggling_every_poll_on_the_simulator_is_one_flapping_alert(province, centre, monkeypatch):
    monkeypatch.setenv("NMS_STATE_DOWN_AFTER", "1")  # no hysteresis: every poll's toggle reaches the state
    inv, sim = province
    settings, url, tokens = centre
    hook = HttpReceiver().start()
    try:
        rules = make_rules(
            [
                {"name": "link-down", "kind": "state", "subject": "link", "severity": "critical"},
                {"name": "interface-down", "kind": "state", "subject": "interface", "severity": "minor"},
            ],
            flap_threshold=3,
            flap_window_s=900,
        )
        engine = Engine(rules, inv, make_channels(hook.url + "/hook"))
        agents = Agents(inv, sim, url, tokens)
        agents.inv = subset_agents(inv, ["province"])
        db = open_migrated(settings, "centre")
        agents.round()
        for i in range(10):
            sim.fault("if-down" if i % 2 == 0 else "if-up", "anhui-int-rtr1", "GigabitEthernet3/0/0")
            agents.round()
            engine.evaluate(db)
            Outbox(engine.channels).run_once(db)
        changes = db.execute(
            "SELECT COUNT(*) FROM state_events WHERE kind = 'interface'"
            " AND subject = 'anhui-int-rtr1:GigabitEthernet3/0/0'"
        ).fetchone()[0]
        assert changes >= 9  # it really toggled on every poll
        rows = db.execute("SELECT rule, subject_id, state, flapping, root_id FROM alert_alerts").fetchall()
        assert len(rows) == 2  # one per rule and subject, however many toggles
        top = [r for r in rows if r[4] is None]
        assert top == [("link-down", "anhui-int-ha", "firing", 1, None)]
        events = [json.loads(r.body)["event"] for r in hook.requests]
        assert events.count("firing") == 1 and len(events) <= 3
        db.conn.close()
    finally:
        hook.stop()


def subset_agents(inv: Inventory, agents: list[str]) -> Inventory:
    out = replace(inv)
    out.agents = {a: inv.agents[a] for a in agents}
    return out
