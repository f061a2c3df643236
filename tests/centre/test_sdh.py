"""SDH at the centre: defect state per port, per-layer buckets stored once, G.826 figures."""

from __future__ import annotations

import pytest

from nms import sdh, state
from nms.state import StateConfig, apply_batch
from tests.centre.helpers import T0, poll, small_inventory

PROV = "prov-rtr1:POS1/0/0"


def _sdh_poll(device: str, ts: float, *, section=(), line=(), path=(), buckets=()) -> dict:
    p = poll(device, ts)
    p["sdh"][0].update(
        section_status=list(section), line_status=list(line), path_status=list(path), buckets=list(buckets)
    )
    return p


def _bucket(end: int, es=0, ses=0, uas=0, cv=0, valid=True) -> dict:
    layer = {"es": es, "ses": ses, "cv": cv, "uas": uas}
    return {
        "interval_end": end,
        "es": es,
        "ses": ses,
        "uas": uas,
        "valid": valid,
        "section": {"es": es, "ses": ses, "sefs": 0, "cv": cv},
        "line": dict(layer),
        "path": dict(layer),
    }


# ---- G.826 with known numbers --------------------------------------------------------------------


def test_g826_ratios_over_available_time():
    # two quarter hours: 100 s unavailable in the first; 9 ES of which 3 SES; 7,300 CV
    fig = sdh.g826([{"es": 6, "ses": 2, "uas": 100, "cv": 5_000}, {"es": 3, "ses": 1, "uas": 0, "cv": 2_300}])
    assert (fig.seconds, fig.uas_s, fig.available_s) == (1800, 100, 1700)
    assert (fig.es, fig.ses) == (9, 3)
    assert fig.esr == pytest.approx(9 / 1700) and fig.sesr == pytest.approx(3 / 1700)
    # BBE: errored blocks outside SES; each SES accounts for ceil(0.3 x 8000) = 2,400 of them
    assert fig.bbe == (5_000 - 2 * 2_400) + max(0, 2_300 - 2_400) == 200
    assert fig.blocks == (1700 - 3) * 8000 and fig.bber == pytest.approx(200 / ((1700 - 3) * 8000))


def test_g826_whole_bucket_unavailable_and_no_data():
    fig = sdh.g826([{"es": 0, "ses": 0, "uas": 900, "cv": 0}])
    assert (fig.available_s, fig.uas_s, fig.esr, fig.sesr, fig.bber) == (0, 900, None, None, None)
    empty = sdh.g826([])
    assert (empty.buckets, empty.esr) == (0, None)
    # nonsense from a device is bounded, never a ratio above 1
    odd = sdh.g826([{"es": 5_000, "ses": 2_000, "uas": -3, "cv": None}])
    assert odd.esr == odd.sesr == 1.0 and odd.bbe == 0


# ---- state and buckets through apply_batch -----------------------------------------------------------


def test_defect_state_per_port_since_and_late_polls(centre_db):
    inv = small_inventory()
    apply_batch(centre_db, "prov", 1, [_sdh_poll("prov-rtr1", T0)], inv)
    apply_batch(
        centre_db,
        "prov",
        2,
        [_sdh_poll("prov-rtr1", T0 + 60, section=["LOS"], line=["AIS"], path=["AIS"])],
        inv,
    )
    apply_batch(
        centre_db,
        "prov",
        3,
        [_sdh_poll("prov-rtr1", T0 + 120, section=["LOS"], line=["AIS"], path=["AIS"])],
        inv,
    )
    cur = sdh.current(centre_db)[PROV]
    assert (cur["section"], cur["line"], cur["path"], cur["defects"]) == (
        ["LOS"],
        ["AIS"],
        ["AIS"],
        ["AIS", "LOS"],
    )
    assert (cur["since"], cur["last_ts"]) == (T0 + 60, T0 + 120)  # since the first poll that saw it
    apply_batch(centre_db, "prov", 4, [_sdh_poll("prov-rtr1", T0 + 30)], inv)  # a spooled, older poll
    assert sdh.current(centre_db)[PROV]["defects"] == ["AIS", "LOS"]
    apply_batch(centre_db, "prov", 5, [_sdh_poll("prov-rtr1", T0 + 180)], inv)
    assert sdh.current(centre_db)[PROV] == {
        "section": [],
        "line": [],
        "path": [],
        "defects": [],
        "since": T0 + 180,
        "last_ts": T0 + 180,
    }


def test_layer_buckets_stored_once_whatever_the_repeats(centre_db):
    inv = small_inventory()
    day = [_bucket(T0 - k * 900, es=k % 3, cv=10 * (k % 3)) for k in range(96)]
    apply_batch(centre_db, "prov", 1, [_sdh_poll("prov-rtr1", T0 + 5, buckets=day)], inv)
    # an agent restarted: its first poll delivers the whole day again, plus one new quarter hour
    again = [*day, _bucket(T0 + 900, es=9, ses=4, uas=20, cv=9_700)]
    apply_batch(centre_db, "prov", 2, [_sdh_poll("prov-rtr1", T0 + 905, buckets=again)], inv)
    n = centre_db.execute("SELECT layer, COUNT(*) FROM state_sdh_pm GROUP BY layer ORDER BY layer").fetchall()
    assert n == [("line", 97), ("path", 97), ("section", 97)]
    layer, rows = sdh.port_buckets(centre_db, "prov-rtr1", "POS1/0/0", T0, T0 + 900)
    assert layer == "path" and [(r["interval_end"], r["es"], r["ses"], r["uas"], r["cv"]) for r in rows] == [
        (T0 + 900, 9, 4, 20, 9_700)
    ]
    (row,) = sdh.link_report(centre_db, inv, T0, T0 + 900)
    assert row["link"] == "prov-hefei" and row["worst"]["end"] == PROV
    assert row["worst"]["uas_s"] == 20 and row["worst"]["sesr"] == pytest.approx(4 / 880)
    assert row["ends"][1]["buckets"] == 0  # the city end reported nothing


def test_rdi_alone_degrades_the_port_and_the_link(centre_db):
    inv = small_inventory()
    cfg = StateConfig(down_after=1, up_after=1)
    apply_batch(centre_db, "prov", 1, [_sdh_poll("prov-rtr1", T0), poll("hefei-rtr1", T0)], inv, cfg)
    apply_batch(
        centre_db,
        "prov",
        2,
        [_sdh_poll("prov-rtr1", T0 + 60, line=["RDI"], path=["RDI"]), poll("hefei-rtr1", T0 + 60)],
        inv,
        cfg,
    )
    cur = state.current(centre_db)
    assert (cur["interface"][PROV]["state"], cur["interface"][PROV]["reason"]) == (
        "degraded",
        "SDH RDI (far end defect)",
    )
    assert (cur["link"]["prov-hefei"]["state"], cur["link"]["prov-hefei"]["reason"]) == (
        "degraded",
        f"SDH RDI (far end defect) at {PROV}",
    )
    apply_batch(
        centre_db,
        "prov",
        3,
        [_sdh_poll("prov-rtr1", T0 + 120, line=["AIS"]), poll("hefei-rtr1", T0 + 120)],
        inv,
        cfg,
    )
    assert state.current(centre_db)["link"]["prov-hefei"]["reason"] == f"SDH AIS at {PROV}"


def test_availability_report_carries_the_g826_ratios_of_the_worse_direction(centre_db):
    from nms import maintenance
    from nms.availability import report, to_csv

    inv = small_inventory()
    prov = [_bucket(T0 + 900, es=9, ses=3, uas=0, cv=7_300), _bucket(T0 + 1800, es=90, ses=90, uas=300)]
    city = [_bucket(T0 + 900, es=1, cv=4), _bucket(T0 + 1800)]
    apply_batch(centre_db, "prov", 1, [_sdh_poll("prov-rtr1", T0 + 1805, buckets=prov)], inv)
    apply_batch(centre_db, "hefei", 1, [_sdh_poll("hefei-rtr1", T0 + 1805, buckets=city)], inv)
    maintenance.add_window(centre_db, "link", "prov-hefei", T0 + 900, T0 + 1800, actor="test")  # 2nd bucket
    (row,) = report(centre_db, T0, T0 + 1800, inv, subjects=[("link", "prov-hefei")])
    assert row["g826_covered_s"] == 900  # the quarter hour in maintenance is left out
    assert row["g826_esr"] == pytest.approx(9 / 900) and row["g826_sesr"] == pytest.approx(3 / 900)
    assert row["g826_bber"] == pytest.approx(100 / ((900 - 3) * 8000))  # 7,300 CV less 3 x 2,400 in SES
    header = next(line for line in to_csv([row]).splitlines() if not line.startswith("#"))
    assert "g826_esr" in header.split(",")
