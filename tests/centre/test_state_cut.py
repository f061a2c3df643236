"""Behind a confirmed cut, silence means unreachable within seconds, not after ``stale_after`` minutes."""

from __future__ import annotations

from nms import state
from nms.state import StateConfig, age_out, apply_batch
from tests.centre.helpers import T0, poll, small_inventory

CFG = StateConfig(down_after=2, up_after=1, stale_factor=3.0, stale_min_s=180.0, cut_grace_s=10.0)
CITY = ("hefei-rtr1", "hefei-fw1", "feidong-rtr1")


class World:
    def __init__(self, db) -> None:  # noqa: ANN001
        self.db, self.inv, self.seq = db, small_inventory(), 0

    def send(self, agent: str, polls: list[dict]) -> None:
        self.seq += 1
        assert apply_batch(self.db, agent, self.seq, polls, self.inv, CFG)

    def cur(self, kind: str, subject: str) -> dict:
        return state.current(self.db)[kind][subject]

    def cut_restore_then_replay(self, age: bool = False) -> None:
        """prov-hefei cut at T0+30 and back at T0+90 (both confirmed at the province end), then
        the city's spool: what its end saw during the cut (T0+35), delivered after the restore."""
        self.send("prov", [poll("prov-rtr1", T0)])
        self.send("hefei", [poll(d, T0) for d in CITY])
        cut = poll("prov-rtr1", T0 + 30, oper={"POS1/0/0": "down"}) | {"confirm": "trap link-down"}
        self.send("prov", [cut])
        if age:
            age_out(self.db, self.inv, T0 + 45, CFG)
        self.send("prov", [poll("prov-rtr1", T0 + 90) | {"confirm": "reachability: POS1/0/0 up"}])
        during = poll("hefei-rtr1", T0 + 35, oper={"POS1/0/0": "down"}) | {"confirm": "reachability: down"}
        self.send("hefei", [during, *(poll(d, T0 + 35) for d in CITY[1:])])


def test_silent_city_behind_a_confirmed_cut_is_unreachable_after_the_grace(centre_db) -> None:  # noqa: ANN001
    w = World(centre_db)
    w.send("prov", [poll("prov-rtr1", T0)])
    w.send("hefei", [poll(d, T0) for d in CITY])
    assert w.cur("link", "prov-hefei")["state"] == "up"
    cut = poll("prov-rtr1", T0 + 30, oper={"POS1/0/0": "down"})
    cut["confirm"] = "reachability: POS1/0/0 down"
    w.send("prov", [cut])  # one confirming poll: the link is down at once
    link = w.cur("link", "prov-hefei")
    assert (link["state"], link["since"]) == ("down", T0 + 30)
    assert age_out(centre_db, w.inv, T0 + 35, CFG) == 0  # within the grace: nothing yet
    assert w.cur("device", "hefei-rtr1")["state"] == "up"
    assert age_out(centre_db, w.inv, T0 + 41, CFG) > 0  # 11 s after the cut, long before 180 s
    for name in CITY:
        c = w.cur("device", name)
        assert c["state"] == "unreachable" and c["since"] == T0 + 30, (name, c)
        assert "link prov-hefei" in c["reason"]
    assert w.cur("site", "hefei")["state"] != "up"
    assert age_out(centre_db, w.inv, T0 + 46, CFG) == 0  # said once
    back = poll("prov-rtr1", T0 + 60)
    back["confirm"] = "trap link-up POS1/0/0"
    w.send("prov", [back])
    assert w.cur("link", "prov-hefei")["state"] == "up"  # the far end's silence predates its return
    assert w.cur("device", "hefei-rtr1")["state"] == "unknown"  # reachable again, not heard yet
    w.send("hefei", [poll(d, T0 + 61) for d in CITY])  # the city's agent replays
    assert all(w.cur("device", d)["state"] == "up" for d in CITY)
    assert w.cur("link", "prov-hefei")["state"] == "up"


def test_a_device_heard_after_the_cut_stays_as_it_is(centre_db) -> None:  # noqa: ANN001
    w = World(centre_db)
    w.send("prov", [poll("prov-rtr1", T0)])
    w.send("hefei", [poll(d, T0) for d in CITY])
    for k in (1, 2):  # two ordinary polls: no confirmation needed either
        w.send("prov", [poll("prov-rtr1", T0 + 10 * k, oper={"POS1/0/0": "down"})])
    assert w.cur("link", "prov-hefei")["state"] == "down"
    w.send("hefei", [poll("hefei-fw1", T0 + 25)])  # a path the inventory does not know
    age_out(centre_db, w.inv, T0 + 45, CFG)
    assert w.cur("device", "hefei-fw1")["state"] == "up"
    assert w.cur("device", "hefei-rtr1")["state"] == "unreachable"


def test_no_cut_no_early_aging(centre_db) -> None:  # noqa: ANN001
    w = World(centre_db)
    w.send("prov", [poll("prov-rtr1", T0)])
    w.send("hefei", [poll(d, T0) for d in CITY])
    assert age_out(centre_db, w.inv, T0 + 170, CFG) == 0  # silent, but nothing is cut
    assert w.cur("device", "hefei-rtr1")["state"] == "up"


def test_a_spool_replayed_after_the_restore_does_not_cut_the_link_again(centre_db) -> None:  # noqa: ANN001
    w = World(centre_db)
    w.cut_restore_then_replay(age=True)
    assert w.cur("link", "prov-hefei")["state"] == "up"  # old news from the spool, not a new cut
    w.send("hefei", [poll(d, T0 + 95) for d in CITY])
    assert w.cur("link", "prov-hefei")["state"] == "up"
    changes = state.events(centre_db, kind="link", subject="prov-hefei")[::-1]  # oldest first
    assert [(e["from"], e["to"]) for e in changes] == [("unknown", "up"), ("up", "down"), ("down", "up")]
    # a cut seen at that end after the restore is a cut again
    w.send("hefei", [poll("hefei-rtr1", T0 + 100, oper={"POS1/0/0": "down"})])
    w.send("hefei", [poll("hefei-rtr1", T0 + 105, oper={"POS1/0/0": "down"})])
    assert w.cur("link", "prov-hefei")["state"] == "down"


def test_a_confirming_poll_decides_a_tunnel_at_once(centre_db) -> None:  # noqa: ANN001
    from tests.centre.test_state_tunnels import Cipher, row

    c = Cipher(centre_db)
    c.poll(row("prov-cipher1"), row("feidong-cipher1"))
    c.poll(row("prov-cipher1"), row("feidong-cipher1", up=False))  # an ordinary poll: not yet
    assert c.tunnels()["hefei-cipher1>feidong-cipher1"] == ("up", None)
    c.poll(row("prov-cipher1"), row("feidong-cipher1"))  # back up: the run of downs is broken
    c.seq += 1
    c.t += 5
    p = poll(c.device, c.t) | {"tunnels": [row("prov-cipher1"), row("feidong-cipher1", up=False)],
                               "confirm": "trap tunnel-down 10.0.1.3"}
    assert apply_batch(centre_db, "hefei", c.seq, [p], c.inv, StateConfig(2, 1))
    assert c.tunnels()["hefei-cipher1>feidong-cipher1"] == ("down", "no SA")


def test_a_replayed_down_at_the_city_end_is_not_shown_or_recorded_as_that_port_down(centre_db) -> None:  # noqa: ANN001
    """The city end's own loss of signal from the spool is old news too: the port shows its far
    end's state (no sdh-defect page, which has no grace) and no down/up pair enters its history."""
    w = World(centre_db)
    w.cut_restore_then_replay()
    port = w.cur("interface", "hefei-rtr1:POS1/0/0")
    assert port["state"] == "up" and "next poll decides" in (port["reason"] or "")
    w.send("hefei", [poll(d, T0 + 95) for d in CITY])  # its own fresh poll: up, and it decides
    assert w.cur("interface", "hefei-rtr1:POS1/0/0")["state"] == "up"
    changes = state.events(centre_db, kind="interface", subject="hefei-rtr1:POS1/0/0")
    assert not any(e["to"] == "down" for e in changes), changes
    # a down polled at that end after the restore is that port down again
    w.send("hefei", [poll("hefei-rtr1", T0 + 100, oper={"POS1/0/0": "down"})])
    w.send("hefei", [poll("hefei-rtr1", T0 + 105, oper={"POS1/0/0": "down"})])
    assert w.cur("interface", "hefei-rtr1:POS1/0/0")["state"] == "down"


def test_a_replayed_no_sa_is_old_news_once_the_reverse_tunnel_is_back(centre_db) -> None:  # noqa: ANN001
    """The city's cipher machine's "no SA" from its spool, dated before the province's machine
    saw the tunnel return, is not shown (its hold counts from that old time, so it would page
    at once) and enters no history; a "no SA" polled after the return is a tunnel down."""
    from tests.centre.test_state_tunnels import cipher_inventory, row

    inv, seq = cipher_inventory(), iter(range(1, 100))
    tunnel = "hefei-cipher1>prov-cipher1"

    def send(agent: str, device: str, ts: float, peer: str, up: bool, confirm: bool = False) -> None:
        p = poll(device, ts) | {"tunnels": [row(peer, up=up)]}
        if confirm:
            p["confirm"] = "reachability"
        assert apply_batch(centre_db, agent, next(seq), [p], inv, CFG)

    send("prov", "prov-cipher1", T0, "hefei-cipher1", True)
    send("hefei", "hefei-cipher1", T0, "prov-cipher1", True)
    send("prov", "prov-cipher1", T0 + 30, "hefei-cipher1", False, confirm=True)  # the cut
    send("prov", "prov-cipher1", T0 + 90, "hefei-cipher1", True, confirm=True)  # back
    send("hefei", "hefei-cipher1", T0 + 35, "prov-cipher1", False, confirm=True)  # replayed
    assert state.current(centre_db)["tunnel"][tunnel]["state"] == "up"
    send("hefei", "hefei-cipher1", T0 + 95, "prov-cipher1", True)
    assert state.current(centre_db)["tunnel"][tunnel]["state"] == "up"
    assert not any(e["to"] == "down" for e in state.events(centre_db, kind="tunnel", subject=tunnel))
    send("hefei", "hefei-cipher1", T0 + 100, "prov-cipher1", False, confirm=True)  # after the return
    assert state.current(centre_db)["tunnel"][tunnel]["state"] == "down"
