"""Huawei VRP and H3C Comware over real SSH (our paramiko simulator on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nms.configs import diff, job, store
from nms.configs.credentials import SshCredential
from nms.configs.fetch import Limits, Target
from nms.schema import open_migrated
from tests.configs.conftest import sim_device

VRP = """!Software Version V200R010C00SPC600
!Last configuration was updated at 2026-11-25 10:00:00+08:00
#
 sysname hefei-rtr1
#
aaa
 local-user admin password irreversible-cipher $1a$Xyz$AbCdEfGh$
#
snmp-agent community read cipher %^%#CommSecret%^%#
#
interface GigabitEthernet0/0/1
 description to-chaohu
 ip address 10.1.1.1 255.255.255.252
#
return
"""

COMWARE = """#
 version 7.1.064, Release 0427P22
#
 sysname chaohu-sw1
#
local-user admin class manage
 password hash $h$6$Zz0aBcD$longhash==
#
snmp-agent community read simple publicRO
#
return
"""

LIMITS = Limits(max_parallel=4, conn_timeout=5, auth_timeout=5, read_timeout=10, deadline_s=20)
CRED = SshCredential("netops", "s3cret-pw")


def _targets(ports: dict[str, int], cred: SshCredential = CRED) -> list[Target]:
    types = {"hefei-rtr1": "huawei", "chaohu-sw1": "hp_comware"}
    return [Target(name, "127.0.0.1", port, types[name], cred, site="hefei") for name, port in ports.items()]


def _events(db, kind: str) -> list[dict]:
    return [e for e in store.events(db) if e["kind"] == kind]


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_first_unchanged_changed_volatile(tmp_path: Path, db, vrp_sim) -> None:
    ports = vrp_sim.start([sim_device(tmp_path, "hefei-rtr1", "huawei", VRP),
                           sim_device(tmp_path, "chaohu-sw1", "h3c", COMWARE)])
    targets = _targets(ports)

    first = job.run(db, targets, "test:first", LIMITS)
    assert sorted(o.status for o in first.outcomes) == ["new", "new"], first.outcomes
    v1 = store.latest(db, "hefei-rtr1")
    assert v1 is not None and v1["version"] == 1 and v1["trigger"] == "test:first"
    # stored exactly, secrets included (restorable)
    assert "irreversible-cipher $1a$Xyz$AbCdEfGh$" in v1["content"]
    assert "sysname chaohu-sw1" in store.latest(db, "chaohu-sw1")["content"]
    assert len(_events(db, "baseline")) == 2

    again = job.run(db, targets, "test:again", LIMITS)
    assert [o.status for o in again.outcomes] == ["unchanged", "unchanged"]
    assert len(store.versions(db, "hefei-rtr1")) == 1

    # only the volatile timestamp moves: not a change
    cfg = tmp_path / "hefei-rtr1.cfg"
    cfg.write_text(VRP.replace("10:00:00+08:00", "23:59:59+08:00"), encoding="utf-8")
    vol = job.run(db, targets[:1] if targets[0].device == "hefei-rtr1" else targets[1:], "test:vol", LIMITS)
    assert [o.status for o in vol.outcomes] == ["unchanged"]

    # a real change: new version, event, diff shows it with secrets masked
    cfg.write_text(VRP.replace("description to-chaohu", "description to-chaohu-backup"), encoding="utf-8")
    changed = job.run(db, targets, "test:change", LIMITS)
    by_dev = {o.device: o for o in changed.outcomes}
    assert by_dev["hefei-rtr1"].status == "changed" and by_dev["hefei-rtr1"].version == 2
    assert by_dev["chaohu-sw1"].status == "unchanged"
    ev = _events(db, "changed")
    assert len(ev) == 1 and ev[0]["device"] == "hefei-rtr1" and ev[0]["previous_version_id"] == v1["id"]
    d = diff.diff_versions(db, v1["id"], by_dev["hefei-rtr1"].version_id)
    text = "\n".join(d.lines)
    assert "- description to-chaohu" in text and "+ description to-chaohu-backup" in text
    assert d.changed
    whole = diff.display_text(store.get_version(db, v1["id"]))
    assert "AbCdEfGh" not in whole and "CommSecret" not in whole and "******" in whole
    audits = db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'configs.version.store'").fetchone()[0]
    assert audits == 3  # two baselines and one change


def test_wrong_password_and_unreachable(tmp_path: Path, db, vrp_sim) -> None:
    ports = vrp_sim.start([sim_device(tmp_path, "hefei-rtr1", "huawei", VRP)])
    bad = _targets(ports, SshCredential("netops", "wrong"))
    from tests.support.ports import free_port

    closed = Target("ghost-rtr", "127.0.0.1", free_port(), "huawei", CRED)
    report = job.run(db, [*bad, closed], "test:bad", LIMITS, retry_s=60)
    errors = {o.device: o.error for o in report.outcomes}
    assert errors["hefei-rtr1"] == "auth"
    assert errors["ghost-rtr"].startswith("unreachable")
    assert store.versions(db, "hefei-rtr1") == []
    st = {r["device"]: r for r in store.status(db)}
    ghost = st["ghost-rtr"]
    assert ghost["consecutive_failures"] == 1 and ghost["next_retry"] > ghost["last_attempt"]
    assert {e["device"] for e in _events(db, "fetch_failed")} == {"hefei-rtr1", "ghost-rtr"}
    # not due again until the retry time; due after it
    assert job.due(db, [closed], interval_s=3600) == []
    assert job.due(db, [closed], interval_s=3600, now=ghost["next_retry"] + 1) == [closed]


def test_changed_host_key_is_refused_and_raised(tmp_path: Path, db, vrp_sim) -> None:
    dev = sim_device(tmp_path, "hefei-rtr1", "huawei", VRP)
    ports = vrp_sim.start([dev])
    targets = _targets(ports)
    assert [o.status for o in job.run(db, targets, "test", LIMITS).outcomes] == ["new"]
    pinned = db.execute("SELECT fingerprint FROM config_hostkeys WHERE device='hefei-rtr1'").fetchone()[0]

    # same address and port, new host key (a swapped box or a man in the middle)
    vrp_sim.stop()
    Path(dev["host_key_file"]).unlink()
    (tmp_path / "hefei-rtr1.cfg").write_text(VRP.replace("to-chaohu", "EVIL"), encoding="utf-8")
    vrp_sim.start([{**dev, "port": ports["hefei-rtr1"]}])
    report = job.run(db, targets, "test", LIMITS)
    assert [o.error for o in report.outcomes] == ["hostkey-changed"]
    assert len(store.versions(db, "hefei-rtr1")) == 1  # nothing from the impostor stored
    ev = _events(db, "hostkey_changed")
    assert len(ev) == 1 and pinned in ev[0]["detail"] and "presented" in ev[0]["detail"]
    # the pin is unchanged: still refused next time
    assert job.run(db, targets, "test", LIMITS).outcomes[0].error == "hostkey-changed"

    # after an operator checked the box and reset the pin, the new key is pinned and used
    assert store.reset_hostkey(db, "hefei-rtr1", "cli:tester", reason="RMA, key checked on console")
    after = job.run(db, targets, "test", LIMITS).outcomes[0]
    assert after.status == "changed" and after.version == 2
    new_pin = db.execute("SELECT fingerprint FROM config_hostkeys WHERE device='hefei-rtr1'").fetchone()[0]
    assert new_pin != pinned
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE action LIKE 'configs.hostkey.%'")]
    assert actions == ["configs.hostkey.pin", "configs.hostkey.reset", "configs.hostkey.pin"]


def test_silent_listener_times_out(db) -> None:
    """A port that accepts TCP but never speaks SSH: a timeout within the deadline, not a hang."""
    import socket

    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(4)  # the kernel completes the handshake; nobody ever answers
        t = Target("mute-rtr", "127.0.0.1", mute.getsockname()[1], "huawei", CRED)
        limits = Limits(conn_timeout=2, auth_timeout=2, read_timeout=3, deadline_s=8, grace_s=1)
        out = job.run(db, [t], "test", limits).outcomes[0]
    assert out.status == "failed" and out.error.startswith("timeout"), out.error


def test_schedule_fetches_due_devices_and_retries_failures(tmp_path: Path, settings, db, vrp_sim) -> None:
    import threading
    import time

    from tests.support.ports import free_port

    ports = vrp_sim.start([sim_device(tmp_path, "hefei-rtr1", "huawei", VRP)])
    targets = [*_targets(ports), Target("ghost-rtr", "127.0.0.1", free_port(), "huawei", CRED)]
    stop = threading.Event()
    sched_db = open_migrated(settings, "centre")
    thread = threading.Thread(target=job.schedule, kwargs=dict(
        db=sched_db, load_targets=lambda: targets, interval_s=3600, stop=stop, limits=LIMITS,
        retry_s=0.2, tick_s=0.2), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = {r["device"]: r for r in store.status(db)}
            if st.get("ghost-rtr", {}).get("consecutive_failures", 0) >= 3 and "hefei-rtr1" in st:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
    sched_db.conn.close()
    st = {r["device"]: r for r in store.status(db)}
    assert st["ghost-rtr"]["consecutive_failures"] >= 3  # retried, with back-off, not abandoned
    assert st["hefei-rtr1"]["last_result"] == "baseline"  # fetched once: not due again for an hour
    triggers = [r[0] for r in db.execute("SELECT actor FROM audit_log WHERE action='configs.fetch.trigger'")]
    assert len(triggers) >= 3 and set(triggers) == {"scheduler"}
    assert [e["device"] for e in store.events(db) if e["kind"] == "fetch_failed"] == ["ghost-rtr"]
