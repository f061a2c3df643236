"""Issue 20 end to end: the simulator's address tables -> agent -> centre -> reconciliation page.

Real processes on loopback (``python -m probes.sim serve``, ``python agent.py run``, ``nms
serve``) with a short address-poll interval.  The centre holds the shipped address plan; the
small province agrees with it, so there is nothing to report until the simulator's
deliberate discrepancies are switched on: then the findings appear within one address-poll
interval, and go once the faults are cleared.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_walking_skeleton import running_province
from tests.support.processes import Centre

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 2.0  # interface polls
ADDRESS_INTERVAL = 5.0  # address polls (production default 900 s)
BATCH_INTERVAL = 0.5
RTR, FW, LINK = "lujiang-int-rtr1", "lujiang-int-fw1", "mstp-lujiang"  # a end: chaohu-int-rtr1


@pytest.fixture
def province(tmp_path: Path):
    from ipam import csvio

    plan = (ROOT / "ipam" / "data" / "address_plan.csv").read_text(encoding="utf-8")
    args = ["--interval-override", str(INTERVAL), "--no-jitter", "--snmp-timeout", "1", "--snmp-retries", "1",
            "--batch-interval", str(BATCH_INTERVAL)]
    with running_province(tmp_path, args,
                          {"NMS_ADDRESS_INTERVAL_S": str(ADDRESS_INTERVAL)},
                          lambda db: csvio.import_csv(db, plan, actor="test")) as running:
        yield running


def get(centre: Centre, token: str, path: str) -> tuple[int, str]:
    req = urllib.request.Request(centre.url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read().decode("utf-8")


def findings(centre: Centre, token: str) -> dict:
    return json.loads(get(centre, token, "/api/v1/ipam/findings")[1])


def wait(centre, token, agent, test, what: str, timeout: float) -> tuple[float, dict]:
    start = time.monotonic()
    got: dict = {}
    while time.monotonic() - start < timeout:
        agent.check()
        got = findings(centre, token)
        if test(got):
            return time.monotonic() - start, got
        time.sleep(0.3)
    last = json.dumps(got, ensure_ascii=False)[:1500]
    raise AssertionError(f"{what}: not within {timeout:.0f}s; last {last}")


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_discrepancies_appear_within_one_address_poll_and_go_when_cleared(province):
    sim, centre, agent, token = province
    routers = 6  # routers and firewalls of the small province report at least

    _took, first = wait(centre, token, agent, lambda f: f["devices_polled"] >= routers and f["last_poll"],
                        "first address polls", 90)
    time.sleep(ADDRESS_INTERVAL + INTERVAL)  # every device has reported once more
    clean = findings(centre, token)
    assert clean["findings"] == [], "the simulated province agrees with the plan"
    assert clean["rows"]["stored"] > 0 and clean["rows"]["bad"] == 0

    for action, target in (("addr-unknown", RTR), ("addr-duplicate", RTR), ("addr-mismatch", FW),
                           ("lldp-miscabled", LINK)):
        sim.fault(action, target)
    one_poll = ADDRESS_INTERVAL + INTERVAL + BATCH_INTERVAL + 3.0  # plus a loaded machine's slack
    kinds = {"unknown", "duplicate", "mismatch", "cabling"}
    took, got = wait(centre, token, agent, lambda f: kinds <= {x["kind"] for x in f["findings"]},
                     "the four discrepancies", 3 * one_poll)
    print(f"discrepancies seen {took:.1f}s after the faults (address interval {ADDRESS_INTERVAL}s)")
    assert took <= one_poll + INTERVAL, f"took {took:.1f}s, more than one address-poll interval"
    by = {x["kind"]: x for x in got["findings"]}
    dup = by["duplicate"]
    # the neighbour's address at two MACs on the router, and where else it is seen (the firewall's ARP)
    assert len({p["mac"] for p in dup["places"]}) == 2 and RTR in {p["device"] for p in dup["places"]}
    assert len([p for p in dup["places"] if p["device"] == RTR]) == 2
    assert by["mismatch"]["places"][0]["device"] == FW and by["mismatch"]["planned_site"] not in (None, "")
    assert by["cabling"]["places"][0]["device"] == "chaohu-int-rtr1" and LINK in by["cabling"]["detail"]
    assert by["unknown"]["address"].startswith("10.250.")
    status, page = get(centre, token, "/ipam/reconcile")
    assert status == 200
    for x in got["findings"]:
        assert x["address"] in page and x["kind"] in page

    sim.fault("clear-all")
    took, _ = wait(centre, token, agent, lambda f: f["findings"] == [], "findings gone after clear-all",
                   3 * one_poll)
    print(f"findings gone {took:.1f}s after clearing")
    assert took <= one_poll + INTERVAL
    assert 'id="no-findings"' in get(centre, token, "/ipam/reconcile")[1]
