"""Late data: a spooled outage delivered after a newer batch still shows in the history."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from nms import state
from nms.availability import report
from nms.schema import create_schema
from nms.state import StateConfig, age_out, apply_batch
from tests.centre.helpers import T0, poll, small_inventory

CFG = StateConfig(down_after=2, up_after=1)
DEV = "hefei-rtr1"


class Hefei:
    """The Hefei agent's batches, one per poll of its router, sent in any order."""

    def __init__(self, db):
        self.db, self.inv, self.seq = db, small_inventory(), 0

    def send(self, *minutes: int, ok: bool = True) -> bool:
        self.seq += 1
        polls = [poll(DEV, T0 + 60 * k, ok=ok) for k in minutes]
        return apply_batch(self.db, "hefei", self.seq, polls, self.inv, CFG)

    def history(self) -> list[tuple[float, str]]:
        evs = reversed(state.events(self.db, kind="device", subject=DEV))
        return [(e["ts"] - T0, e["to"]) for e in evs]

    def row(self, t1: float) -> dict:
        (r,) = report(self.db, T0, T0 + t1, self.inv, subjects=[("device", DEV)])
        return r


def test_spooled_outage_after_a_newer_batch_is_down_time(centre_db):
    h = Hefei(centre_db)
    for k in range(5):
        h.send(k)  # up, minute by minute
    age_out(centre_db, h.inv, T0 + 8 * 60, CFG)  # the link is cut: nothing arrives, the centre ages
    assert h.history()[-1] == (4 * 60 + 180, "unknown")
    h.send(10)  # link back: the live lane's fresh batch first ...
    for k in range(5, 10):
        h.send(k, ok=False)  # ... then the replay lane drains the spooled outage, oldest first
    assert h.history() == [(0, "up"), (300, "down"), (600, "up")]
    assert state.current(centre_db)["device"][DEV]["state"] == "up"  # the present is the newest poll
    assert state.current(centre_db)["device"][DEV]["since"] == T0 + 600
    r = h.row(660)
    assert (r["down_s"], r["up_s"], r["unknown_s"]) == (300, 360, 0)
    assert r["availability_pct"] < 100
    # the same polls again (a resent batch under a new seq) change nothing
    before = centre_db.execute("SELECT count(*) FROM state_events").fetchone()[0]
    h.send(5, 6, 7, 8, 9, ok=False)
    assert centre_db.execute("SELECT count(*) FROM state_events").fetchone()[0] == before


def test_late_polls_cover_part_of_a_gap_the_rest_is_no_data(centre_db):
    h = Hefei(centre_db)
    h.send(0)
    h.send(20)  # twenty minutes of silence, then a poll
    h.send(1, 2, 3, ok=False)  # only three minutes of it ever arrive
    # down from the first failed poll, unknown once those polls are stale (180 s), up at 20
    assert h.history() == [(0, "up"), (60, "down"), (180 + 180, "unknown"), (1200, "up")]
    h.send(4, 5)  # more of the gap, later: it continues the history
    assert h.history() == [(0, "up"), (60, "down"), (240, "up"), (300 + 180, "unknown"), (1200, "up")]


def test_a_single_late_failure_does_not_flap_the_history(centre_db):
    h = Hefei(centre_db)
    h.send(0)
    h.send(3)
    h.send(1, ok=False)  # one failed poll: below down_after
    h.send(2)
    assert h.history() == [(0, "up")]


def _history_of(oks: list[bool], order: list[list[int]], aged: bool = False) -> list[tuple[float, str, str]]:
    """Events of the router when its polls (minute k: ``oks[k]``) arrive in batches ``order``."""
    import sqlite_utils

    db = sqlite_utils.Database(memory=True)
    db.conn.isolation_level = None
    create_schema(db)
    inv = small_inventory()
    for seq, ks in enumerate(order, 1):
        if aged and seq == 2:  # the centre ages the device before the fresh batch arrives
            age_out(db, inv, T0 + 60 * (len(oks) - 1) - 1, CFG)
        apply_batch(db, "hefei", seq, [poll(DEV, T0 + 60 * k, ok=oks[k]) for k in ks], inv, CFG)
    evs = reversed(state.events(db, kind="device", subject=DEV))
    out = [(e["ts"] - T0, e["from"], e["to"]) for e in evs]
    assert all(a[2] == b[1] for a, b in zip(out, out[1:], strict=False))  # from follows to
    assert [e[0] for e in out] == sorted(e[0] for e in out)
    assert not out or out[-1][2] == state.current(db)["device"][DEV]["state"]  # history ends in the present
    return out


@given(
    st.lists(st.booleans(), min_size=3, max_size=14), st.lists(st.integers(1, 4), min_size=14), st.booleans()
)
@hsettings(max_examples=150, deadline=None)
def test_any_delivery_order_gives_the_in_order_history(oks, sizes, aged):
    """First poll, then the newest (live lane), then the rest oldest first in batches (replay);
    ``aged``: the centre aged the device meanwhile (the agent was cut off)."""
    n = len(oks)
    rest, chunks = list(range(1, n - 1)), []
    for size in sizes:
        if rest:
            chunks.append(rest[:size])
            rest = rest[size:]
    late = _history_of(oks, [[0], [n - 1], *chunks], aged)
    assert _history_of(oks, [[0], [n - 1], *chunks, *chunks], aged) == late  # resent: nothing changes
    # the same history as in time order, up to where the newest poll's hysteresis run starts
    cut = 60 * (n - CFG.down_after)
    in_order = _history_of(oks, [[k] for k in range(n)])
    assert [e for e in late if e[0] < cut] == [e for e in in_order if e[0] < cut]
    if aged:  # replayed in time order after aging: the same again
        replayed = _history_of(oks, [[k] for k in range(n)], aged)
        assert [e for e in replayed if e[0] < cut] == [e for e in in_order if e[0] < cut]
