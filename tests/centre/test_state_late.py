"""Late data: a spooled outage delivered after a newer batch still shows in the history."""

from __future__ import annotations

from nms import state
from nms.availability import report
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
