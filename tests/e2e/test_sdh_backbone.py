"""The 155M SDH backbone end to end: simulator -> ``agent.py run`` -> ``nms serve``.

The shipped inventory's 17 ``sdh-stm1`` links and the routers at their ends (the two
province NE40E-X8 and the 17 city routers, Huawei and H3C), served by
``python -m probes.sim serve``, polled by one real agent process, pushed to a real
centre.  Every link end must carry SDH state and its quarter-hour buckets, whatever
profile its router got; a cut shows LOS at the province end in the centre's state.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from probes.sim import run_subprocess
from tests.support.processes import SNMP_SECRETS, Agent, Centre, save_inventory, wait_for, write_secrets

ROOT = Path(__file__).resolve().parents[2]
AGENT = "backbone"


def backbone_inventory(path: Path) -> tuple[Path, list[dict]]:
    """The province, the 17 cities, the routers at the ends of the SDH links, those links."""
    full = yaml.safe_load((ROOT / "inventory.yaml").read_text(encoding="utf-8"))
    links = [ln for ln in full["links"] if ln["kind"] == "sdh-stm1"]
    ends = {e.split(":")[0] for ln in links for e in (ln["a"], ln["b"])}
    devices = [
        {k: v for k, v in d.items() if k != "tunnel_peers"} for d in full["devices"] if d["name"] in ends
    ]
    keep = {d["site"] for d in devices}
    sites = [s for s in full["sites"] if s["id"] in keep]
    return save_inventory(path, full, sites, devices, links, AGENT, sorted(keep)), links


@pytest.fixture
def backbone(tmp_path: Path):
    inventory, links = backbone_inventory(tmp_path / "inventory.yaml")
    secrets_file = write_secrets(tmp_path / "secrets.env")
    data = tmp_path / "centre"
    data.mkdir()
    centre = Centre(data, inventory)
    token = centre.agent_token(AGENT)
    centre.start()
    env = dict(SNMP_SECRETS, NMS_SECRETS_FILE=str(secrets_file))
    try:
        with run_subprocess(inventory, env=env) as sim:
            agent = Agent(
                tmp_path,
                inventory,
                AGENT,
                centre.url,
                token,
                sim.port,
                extra=["--interval-override", "3", "--no-jitter", "--snmp-timeout", "2"],
                env={"NMS_SECRETS_FILE": str(secrets_file)},
            )
            agent.start()
            try:
                yield sim, centre, agent, links
            finally:
                agent.stop()
    finally:
        centre.stop()


def _rows(centre: Centre, sql: str, args: tuple = ()) -> list[tuple]:
    db = sqlite3.connect(centre.data_dir / "centre.db", timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # the table does not exist yet
        return []
    finally:
        db.close()


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_every_sdh_link_carries_sdh_state_and_buckets_and_a_cut_shows_los(backbone):
    sim, centre, agent, links = backbone
    assert len(links) == 17
    ends = {e for ln in links for e in (ln["a"], ln["b"])}

    def all_ends() -> set[str]:
        agent.check()
        return ends & {f"{d}:{i}" for d, i in _rows(centre, "SELECT device, interface FROM state_sdh")}

    wait_for(lambda: all_ends() == ends, 120, "SDH state of both ends of all 17 links")
    buckets = dict(
        _rows(
            centre,
            "SELECT device || ':' || interface, COUNT(*) FROM state_sdh_pm"
            " WHERE layer = 'path' GROUP BY device, interface",
        )
    )
    assert {e: buckets.get(e) for e in ends} == dict.fromkeys(ends, 96)  # a day of quarter hours each
    assert _rows(centre, "SELECT COUNT(*) FROM state_sdh WHERE section || line || path != ''") == [(0,)]

    cut = next(ln for ln in links if ln["id"] == "sdh-huaibei")
    sim.fault("link-down", cut["id"])
    wait_for(
        lambda: (
            _rows(
                centre,
                "SELECT section, line FROM state_sdh WHERE device || ':' || interface = ?",
                (cut["a"],),
            )
            == [("LOS", "AIS")]
        ),
        30,
        "LOS at the province end",
    )
    wait_for(
        lambda: (
            _rows(
                centre,
                "SELECT state, reason FROM state_current WHERE kind = 'link' AND subject = ?",
                (cut["id"],),
            )
            == [("down", f"SDH LOS at {cut['a']}")]
        ),
        30,
        "the link down by LOS",
    )
    sim.fault("link-up", cut["id"])
    wait_for(
        lambda: (
            _rows(centre, "SELECT section FROM state_sdh WHERE device || ':' || interface = ?", (cut["a"],))
            == [("",)]
        ),
        30,
        "LOS cleared",
    )
