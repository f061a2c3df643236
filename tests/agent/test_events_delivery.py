"""Events through the agent: ``agent.py run --trap-listen --syslog-listen`` -> spool -> centre.

Real net-snmp ``snmptrap``/``snmpinform`` (sent from the simulated devices' 127.34.x.y
addresses with ``--clientaddr``, as the devices themselves would) and a real ``nms serve``:
a trap burst while the centre is stopped arrives in the event log once each, and a syslog
flood from one device leaves polling and every poll result intact.
"""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from tests.agent.conftest import AGENT
from tests.agent.test_store_forward import assert_all_delivered_once_in_order, metric, start_agent
from tests.events.conftest import udp_tcp_port
from tests.support.ports import free_port
from tests.support.processes import SNMP_SECRETS, Centre, wait_for

SW = ("chaohu-int-sw1", "127.34.0.5")  # v2c
FW = ("chaohu-int-fw1", "127.34.0.4")  # v3 authPriv SHA-256/AES
EXT_SW = ("chaohu-ext-sw1", "127.34.0.2")  # v2c
BURST_OID = "1.3.6.1.4.1.99999.0.7"  # no profile knows it: an unknown-trap event, no confirming poll
V3 = ["-v3", "-l", "authPriv", "-u", "nmsmon", "-a", "SHA-256", "-A", SNMP_SECRETS["NMS_SNMP_V3_AUTH"],
      "-x", "AES", "-X", SNMP_SECRETS["NMS_SNMP_V3_PRIV"]]


def _events(centre: Centre, where: str = "1", params: tuple = ()) -> list[tuple]:
    from nms.db import connect

    db = connect(centre.settings(), "centre")
    try:
        if "event_log" not in db.table_names():
            return []
        return db.execute(f"SELECT device, kind, text, count, origin FROM event_log WHERE {where}",
                          params).fetchall()
    finally:
        db.conn.close()


def _trap(tool: str, port: int, source: str, tag: str, auth: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool, *auth, "-t", "2", "-r", "3", f"--clientaddr={source}", f"127.0.0.1:{port}", "", BURST_OID,
         "1.3.6.1.4.1.99999.1", "s", tag],
        capture_output=True, text=True, timeout=30, check=False)


def _receivers() -> tuple[int, int, list[str]]:
    trap, syslog = free_port(kind=socket.SOCK_DGRAM), udp_tcp_port()
    return trap, syslog, ["--trap-listen", f"127.0.0.1:{trap}", "--syslog-listen", f"127.0.0.1:{syslog}"]


def test_trap_burst_during_a_centre_outage_arrives_once_each(tmp_path, province) -> None:  # noqa: ANN001
    centre: Centre = province["centre"]
    devices = sorted(d.name for d in province["inventory"].devices_of_agent(AGENT))
    trap_port, _, listen = _receivers()
    agent = start_agent(tmp_path, province, centre.url, *listen)
    try:
        wait_for(lambda: len(centre.batches(AGENT)) >= 2, 30, "first batches at the centre")
        wait_for(lambda: any(e["event"] == "event receivers listening" for e in agent.events()), 10,
                 "the receivers")
        centre.stop()
        community = ["-v2c", "-c", SNMP_SECRETS["NMS_SNMP_COMMUNITY"]]
        sent = []
        for i in range(60):  # v2c traps, fire and forget
            tag = f"burst-v2c-{i}"
            assert _trap("snmptrap", trap_port, SW[1], tag, community).returncode == 0
            sent.append((SW[0], tag))
        for i in range(5):  # acknowledged: the receiver answers while the centre is down
            tag = f"burst-inform-{i}"
            r = _trap("snmpinform", trap_port, EXT_SW[1], tag, community)
            assert r.returncode == 0, r.stderr
            sent.append((EXT_SW[0], tag))
        for i in range(3):  # v3 authPriv informs: engine-ID discovery, then the inform
            tag = f"burst-v3-{i}"
            r = _trap("snmpinform", trap_port, FW[1], tag, V3)
            assert r.returncode == 0, r.stderr
            sent.append((FW[0], tag))
        wait_for(lambda: metric(agent, "nms_agent_spool_pending_events") == 0, 10, "events sealed")
        assert metric(agent, "nms_agent_spool_batches") > 0
        centre.start()
        wait_for(lambda: metric(agent, "nms_agent_spool_batches") == 0, 60, "the spool to drain")
        assert agent.stop() == 0
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
    rows = _events(centre, "kind = 'unknown-trap'")
    for device, tag in sent:
        mine = [r for r in rows if r[0] == device and f"'{tag}'" in r[2]]
        assert len(mine) == 1, (device, tag, len(mine))
    assert len(rows) == len(sent)
    n = assert_all_delivered_once_in_order(agent, centre, devices)  # events took nothing from polls
    assert n >= len(devices) * 2


def test_syslog_flood_from_one_device_leaves_polling_intact(tmp_path, province) -> None:  # noqa: ANN001
    centre: Centre = province["centre"]
    devices = sorted(d.name for d in province["inventory"].devices_of_agent(AGENT))
    trap_port, syslog_port, listen = _receivers()
    agent = start_agent(tmp_path, province, centre.url, *listen)
    flood_s, rate = 3.0, 10_000
    try:
        wait_for(lambda: len(centre.batches(AGENT)) >= 2, 30, "first batches at the centre")
        wait_for(lambda: any(e["event"] == "event receivers listening" for e in agent.events()), 10,
                 "the receivers")
        polls_before = len(agent.polls())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((SW[1], 0))
            t0 = time.monotonic()
            sent, during = 0, []
            while (elapsed := time.monotonic() - t0) < flood_s:
                for _ in range(100):
                    s.sendto(b"<189>Jan  1 00:00:00 sw1 noise: line %d" % sent, ("127.0.0.1", syslog_port))
                    sent += 1
                if sent > elapsed * rate:
                    time.sleep(0.005)
                if sent % 5000 == 0:  # another device's trap in the middle of the flood
                    during.append(f"during-flood-{sent}")
                    _trap("snmptrap", trap_port, EXT_SW[1], during[-1],
                          ["-v2c", "-c", SNMP_SECRETS["NMS_SNMP_COMMUNITY"]])
        assert sent >= flood_s * rate * 0.8
        polls_during = len(agent.polls()) - polls_before
        # every device kept its 1.2 s interval (within a factor of two) during the flood
        assert polls_during >= len(devices) * flood_s / 1.2 / 2, polls_during
        wait_for(lambda: _events(centre, "kind = 'flood' AND device = ?", (SW[0],)), 30, "a flood summary")
        wait_for(lambda: metric(agent, "nms_agent_spool_batches") == 0, 30, "the spool to drain")
        assert agent.stop() == 0
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
    from_sw = _events(centre, "device = ?", (SW[0],))
    held = sum(r[3] for r in from_sw if r[1] == "flood")
    processed = sum(1 for r in from_sw if r[1] != "flood")
    assert held > 0 and processed < sent / 3  # aggregated and counted, not one row a line
    assert processed + held <= sent  # never more than was sent (nothing counted twice)
    others = _events(centre, "device = ? AND kind = 'unknown-trap'", (EXT_SW[0],))
    assert during and sorted(t for t in during for r in others if f"'{t}'" in r[2]) == sorted(during)
    assert_all_delivered_once_in_order(agent, centre, devices)


@pytest.mark.parametrize("bad", ["nonsense", "127.0.0.1:99999"])
def test_bad_listen_address_is_named(tmp_path, province, bad) -> None:  # noqa: ANN001
    agent = start_agent(tmp_path, province, province["centre"].url, "--trap-listen", bad)
    assert agent.proc is not None
    assert agent.proc.wait(timeout=30) == 2
    agent.running = False
    assert "listen address" in agent.log.read_text()


def test_a_trap_the_poll_does_not_confirm_turns_nothing_red(tmp_path, province) -> None:  # noqa: ANN001
    """linkDown for an interface that is up (a lying or stale trap): the agent polls the switch
    at once, the centre logs the event, and the interface and its link stay up throughout."""
    from nms import state
    from nms.db import connect

    centre: Centre = province["centre"]
    trap_port, _, listen = _receivers()
    itf, link = "GigabitEthernet0/0/1", "chaohu-int-l1c"
    subject = f"{SW[0]}:{itf}"
    # a long interval: any poll of the switch after the trap is the confirming one
    agent = start_agent(tmp_path, province, centre.url, *listen, "--interval-override", "30", "--no-jitter")

    def current() -> dict:
        db = connect(centre.settings(), "centre")
        try:
            return state.current(db, ("interface", "link"))
        finally:
            db.conn.close()

    try:
        wait_for(lambda: current()["link"].get(link, {}).get("state") == "up", 60, "the link up")
        wait_for(lambda: any(e["event"] == "event receivers listening" for e in agent.events()), 10,
                 "the receivers")
        r = subprocess.run(
            ["snmptrap", "-v2c", "-c", SNMP_SECRETS["NMS_SNMP_COMMUNITY"], f"--clientaddr={SW[1]}",
             f"127.0.0.1:{trap_port}", "", "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.2", "i", "2",
             "1.3.6.1.2.1.2.2.1.8.2", "i", "2", "1.3.6.1.2.1.31.1.1.1.1.2", "s", itf],
            capture_output=True, text=True, timeout=30, check=False)
        assert r.returncode == 0, r.stderr
        confirm = wait_for(lambda: [p for p in agent.polls() if (p.get("confirm") or "").startswith(
            "trap link-down")], 20, "the confirming poll")
        assert [p["device"] for p in confirm] == [SW[0]]
        wait_for(lambda: _events(centre, "kind = 'link-down' AND device = ?", (SW[0],)), 20,
                 "the event logged")

        def seen_at_centre() -> bool:
            db = connect(centre.settings(), "centre")
            try:
                last = state.observed(db, "interface", [subject]).get(subject, ("", None))[1]
            finally:
                db.conn.close()
            return last is not None and last >= confirm[0]["ts"]

        wait_for(seen_at_centre, 20, "the confirming poll at the centre")
        now = current()
        assert now["interface"][subject]["state"] == "up" and now["link"][link]["state"] == "up"
        db = connect(centre.settings(), "centre")
        try:
            downs = [e for e in state.events(db, subject=subject) + state.events(db, subject=link)
                     if e["to"] != "up"]
        finally:
            db.conn.close()
        assert downs == []  # never red, not even for a moment
        assert agent.stop() == 0
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
