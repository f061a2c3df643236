"""Portals end to end: loopback sites -> ``agent.py run`` -> ``nms serve`` -> state and alerts.

Real processes and real HTTP: the agent probes the inventory's portals (their URLs mapped
to loopback sites by ``--portal-map``), its results travel through the spool and the
ingest API, the centre judges them against the baselines it learned and the alert engine
raises one alert per fault.  Page churn (news list, date, counter) raises none.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_walking_skeleton import ROOT
from tests.portals.pages import HACKER_PAGE, portal
from tests.portals.servers import Site
from tests.support.processes import TOKEN_ENV, Agent, Centre

AGENT = "hefei"
REAL, COUNTY = "hefei-www", "hefei-feidong"
URLS = {
    REAL: "https://www.hefei.gov.cn/",
    "lookalike": "https://www.hefei-gov.cn/",
    COUNTY: "http://www.feidong.gov.cn/",
}


class Portal:
    """A page that churns at every request; ``fault`` replaces or extends it."""

    def __init__(self, host: str) -> None:
        self.day = 0
        self.fault: str | None = None
        self.site = Site(host=host)
        self.site.routes["/"] = self.reply

    def page(self) -> str:
        self.day += 1
        if self.fault == "defaced":
            return portal(self.day, body=HACKER_PAGE, title="hacked")
        if self.fault == "dark-link":
            hidden = '<div style="display:none"><a href="http://www.bet365-casino.example/">体育</a></div>'
            return portal(self.day, extra_body=hidden)
        return portal(self.day)

    def reply(self, handler) -> None:
        if self.fault == "down":
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        body = self.page().encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def inventory(path: Path) -> Path:
    full = yaml.safe_load((ROOT / "inventory.yaml").read_text(encoding="utf-8"))
    keep = {"anhui", "hefei", COUNTY}
    doc = {
        "version": 1,
        "credentials": full["credentials"],
        "sites": [s for s in full["sites"] if s["id"] in keep],
        "devices": [],
        "agents": [{"name": AGENT, "token_env": TOKEN_ENV, "sites": sorted(keep)}],
        "portals": [
            {"id": REAL, "site": "hefei", "name": "合肥市人民政府", "url": URLS[REAL], "agent": AGENT,
             "lookalikes": [URLS["lookalike"]], "interval_s": 10},
            {"id": COUNTY, "site": COUNTY, "name": "肥东县人民政府", "url": URLS[COUNTY], "agent": AGENT,
             "interval_s": 10},
        ],
    }  # fmt: skip
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def centre_data(tmp_path: Path, inv: Path) -> tuple[Path, str, str]:
    """The centre's data directory with an agent token and a province viewer's token."""
    from nms.auth import tokens, users
    from nms.config import Settings
    from nms.schema import open_migrated

    data = tmp_path / "centre"
    data.mkdir()
    db = open_migrated(Settings(data_dir=data, inventory_path=inv))
    agent_token = tokens.create(db, "agent", AGENT, actor="test")[1]
    users.create(db, "watcher", "viewer", "anhui", "watcher-password-1234", actor="test")
    viewer = tokens.create(db, "user", "watcher", actor="test")[1]
    db.conn.close()
    return data, agent_token, viewer


@pytest.fixture
def world(tmp_path: Path, engine_env: str):
    sites = {REAL: Portal("127.0.0.1"), "lookalike": Portal("127.0.0.2"), COUNTY: Portal("127.0.0.3")}
    sites["lookalike"].fault = "down"  # nothing served there yet
    portal_map = tmp_path / "portals.json"
    where = {URLS[k]: s.site.url("/", s.site.server.server_address[0]) for k, s in sites.items()}
    portal_map.write_text(json.dumps(where))
    inv = inventory(tmp_path / "inventory.yaml")
    data, agent_token, viewer = centre_data(tmp_path, inv)
    centre = Centre(data, inv)
    centre.start()
    agent = Agent(tmp_path, inv, AGENT, centre.url, agent_token, None,
                  extra=["--portal-map", str(portal_map), "--interval-override", "1", "--no-jitter",
                         "--icmp", "off", "--portal-timeout", "5"])  # fmt: skip
    agent.start()
    try:
        yield sites, centre, viewer, data
    finally:
        agent.stop()
        centre.stop()
        for s in sites.values():
            s.site.close()


def _get(centre: Centre, token: str, path: str) -> dict:
    req = urllib.request.Request(centre.url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _alerts(centre: Centre, token: str) -> list[tuple[str, str]]:
    rows = _get(centre, token, "/api/v1/alerts?state=open,resolved&limit=500")["alerts"]
    return sorted((a["rule"], a["subject"]["id"]) for a in rows if a["subject"]["kind"] == "portal")


def _current(data: Path) -> dict[str, dict]:
    from nms.config import Settings
    from nms.db import connect
    from nms.portals import store

    db = connect(Settings(data_dir=data))
    try:
        return {r["portal"]: r for r in store.current(db)}
    finally:
        db.conn.close()


def _wait(what, timeout: float = 40.0, show=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting: {what.__doc__}; now {show() if show else got}")


@pytest.mark.slow  # an hour of simulated churn plus every fault: 12 s
def test_faults_raise_one_alert_each_and_churn_none(world) -> None:
    sites, centre, viewer, data = world

    def checked_a_few_times():
        """both portals checked with churning pages, baselines learned"""
        cur = _current(data)
        return len(cur) == 2 and sites[REAL].day >= 6 and sites[COUNTY].day >= 6 and cur

    cur = _wait(checked_a_few_times)
    assert {p: r["state"] for p, r in cur.items()} == {REAL: "up", COUNTY: "up"}
    assert _alerts(centre, viewer) == []  # six days of news, dates and counters: quiet

    sites[REAL].fault = "defaced"
    sites["lookalike"].fault = None  # a clone of the real portal goes up
    sites[COUNTY].fault = "dark-link"
    expected = [("portal-clone", REAL), ("portal-dark-link", COUNTY), ("portal-defaced", REAL)]
    _wait(lambda: _alerts(centre, viewer) == expected, show=lambda: (_alerts(centre, viewer), _current(data)))
    cur = _current(data)
    assert cur[REAL]["state"] == "tampered"
    defaced = next(f for f in cur[REAL]["findings"] if f["kind"] == "defaced")
    assert defaced["evidence"]["diff"] and defaced["evidence"]["similarity"] < 0.5
    dark = next(f for f in cur[COUNTY]["findings"] if f["kind"] == "dark-link")
    assert "bet365-casino.example" in json.dumps(dark["evidence"])
    day = sites[REAL].day
    _wait(lambda: sites[REAL].day >= day + 3)  # further checks of the same faults
    assert _alerts(centre, viewer) == expected  # still one alert per fault

    sites[COUNTY].fault = "down"
    _wait(lambda: ("portal-down", COUNTY) in _alerts(centre, viewer))
    assert _current(data)[COUNTY]["state"] == "down"
    assert len(_alerts(centre, viewer)) == 4
