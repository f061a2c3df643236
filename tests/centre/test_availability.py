"""Availability from a known event history, to the second; maintenance; G.826 from UAS."""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import replace

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from nms import availability, maintenance, state
from nms.availability import account, report, timeline
from nms.schema import create_schema
from nms.state import apply_batch
from tests.centre.helpers import T0, poll, small_inventory
from tests.centre.test_state import ALL

P0 = T0  # period start
DAY = 86400


def add_events(db, kind, subject, history):
    """history: [(ts, to_state)]; from_state follows."""
    prev = "unknown"
    for ts, to in history:
        db.execute(
            "INSERT INTO state_events (ts, kind, subject, from_state, to_state, reason)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (ts, kind, subject, prev, to, "test"),
        )
        prev = to


def test_known_history_to_the_second(centre_db):
    add_events(
        centre_db,
        "device",
        "hefei-rtr1",
        [
            (P0 - 1000, "up"),
            (P0 + 3600, "down"),
            (P0 + 4200, "up"),  # 600 s down
            (P0 + 7200, "degraded"),
            (P0 + 7500, "up"),  # 300 s degraded (available only in the "measured" figure)
            (P0 + 10000, "unreachable"),
            (P0 + 10120, "up"),  # 120 s unreachable
            (P0 + 20500, "down"),
            (P0 + 20800, "up"),  # inside maintenance
            (P0 + 80000, "down"),  # still down at the end: 6400 s
        ],
    )
    maintenance.add_window(
        centre_db, "device", "hefei-rtr1", P0 + 20000, P0 + 21800, actor="test", reason="card swap"
    )
    (row,) = report(centre_db, P0, P0 + DAY, subjects=[("device", "hefei-rtr1")])
    assert row["period_s"] == DAY
    assert row["down_s"] == 7000
    assert row["unreachable_s"] == 120
    assert row["degraded_s"] == 300
    assert row["maintenance_s"] == 1800
    assert row["maintenance_down_s"] == 300
    assert row["unknown_s"] == 0
    assert row["up_s"] == DAY - 7000 - 120 - 300 - 1800
    assert row["outages"] == 3
    # the headline: only "up" counts, over the period less maintenance
    assert row["availability_pct"] == round(100 * 77180 / (DAY - 1800), 4)
    assert row["measured_availability_pct"] == round(100 * (77180 + 300) / (77180 + 300 + 7000 + 120), 4)
    # the same history, a custom range that starts mid-outage
    (row,) = report(centre_db, P0 + 3900, P0 + 4500, subjects=[("device", "hefei-rtr1")])
    assert (row["down_s"], row["up_s"]) == (300, 300)


def test_never_seen_is_unknown_not_down(centre_db):
    create_schema(centre_db)  # a centre that started (tables made) but never heard of "ghost"
    (row,) = report(centre_db, P0, P0 + 3600, subjects=[("device", "ghost")])
    assert row["unknown_s"] == 3600
    assert row["availability_pct"] is None


def test_recurring_and_site_subtree_windows(centre_db):
    inv = small_inventory()
    maintenance.add_window(
        centre_db,
        "site",
        "hefei",
        P0 + 3600,
        P0 + 7200,
        actor="test",
        subtree=True,
        rrule="daily",
        until=P0 + 2 * DAY,
    )
    spans = maintenance.in_maintenance(centre_db, "device", "feidong-rtr1", P0, P0 + 5 * DAY, inv)
    assert spans == [(P0 + 3600 + k * DAY, P0 + 7200 + k * DAY) for k in range(2)]  # until cuts the third
    assert maintenance.in_maintenance(centre_db, "link", "prov-hefei", P0, P0 + DAY, inv) == [
        (P0 + 3600, P0 + 7200)
    ]
    assert maintenance.in_maintenance(centre_db, "device", "prov-rtr1", P0, P0 + DAY, inv) == []
    # a device window covers its interfaces; overlapping windows merge
    maintenance.add_window(centre_db, "device", "prov-rtr1", P0 + 100, P0 + 200, actor="test")
    maintenance.add_window(centre_db, "device", "prov-rtr1", P0 + 150, P0 + 300, actor="test")
    assert maintenance.in_maintenance(centre_db, "interface", "prov-rtr1:POS1/0/0", P0, P0 + DAY, inv) == [
        (P0 + 100, P0 + 300)
    ]
    audit = centre_db.execute("SELECT count(*) FROM audit_log WHERE action = 'maintenance.add'").fetchone()[0]
    assert audit == 3


def test_sdh_link_g826_from_uas(centre_db):
    inv = small_inventory()
    # two 15-min buckets reported by both ends; a's 120 s, b's 60 s in the first bucket
    apply_batch(
        centre_db, "prov", 1, [poll("prov-rtr1", P0 + 1800, uas=[(P0 + 900, 120), (P0 + 1800, 0)])], inv
    )
    apply_batch(
        centre_db, "hefei", 1, [poll("hefei-rtr1", P0 + 1800, uas=[(P0 + 900, 60), (P0 + 1800, 0)])], inv
    )
    rows = {r["subject"]: r for r in report(centre_db, P0, P0 + 3600, inv, kinds=["link"])}
    r = rows["prov-hefei"]
    assert (r["g826_uas_s"], r["g826_covered_s"]) == (120, 1800)
    assert r["g826_availability_pct"] == round(100 * (1 - 120 / 1800), 4)
    assert rows["hefei-feidong"]["g826_uas_s"] is None  # not SDH


@given(
    st.lists(st.tuples(st.integers(1, 9999), st.sampled_from(availability.BUCKETS)), max_size=30),
    st.lists(st.tuples(st.integers(0, 9999), st.integers(1, 3000)), max_size=4),
)
@hsettings(max_examples=200, deadline=None)
def test_buckets_always_add_up(changes, wins):
    changes = sorted(changes)
    maint = maintenance.merge((s, min(s + d, 10000)) for s, d in wins)
    got = account(timeline("unknown", [(float(t), s) for t, s in changes], 0, 10000), maint)
    total = sum(got[f"{b}_s"] for b in availability.BUCKETS) + got["maintenance_s"]
    assert total == 10000


def test_cli_csv(settings, centre_db, monkeypatch, capsys):
    add_events(centre_db, "device", "hefei-rtr1", [(P0 - 10, "up"), (P0 + 60, "down"), (P0 + 120, "up")])
    monkeypatch.setenv("NMS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NMS_INVENTORY", str(settings.inventory_path))
    monkeypatch.setenv("NMS_DATABASE_URL", settings.database_url)
    parser = argparse.ArgumentParser()
    availability.register(parser.add_subparsers())
    args = parser.parse_args(["availability", "--from", str(P0), "--to", str(P0 + 3600), "--format", "csv"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    policy, _, table = out.partition("\n")
    assert policy == f"# {availability.NO_DATA_POLICY}"  # the report says how no data counts
    rows = list(csv.DictReader(io.StringIO(table)))
    (r,) = [x for x in rows if x["subject"] == "hefei-rtr1"]
    assert float(r["down_s"]) == 60 and float(r["up_s"]) == 3540
    bad = parser.parse_args(["availability", "--from", "yesterday", "--to", "today"])
    assert bad.func(bad) == 2
    assert "yesterday" in capsys.readouterr().err


def test_dead_internal_network_behind_a_live_external_one_is_not_available(centre_db):
    """A county whose 专网 router is down while its 外网 router answers: 专网 is down, not 100 %."""
    inv = small_inventory()
    ext = replace(inv.devices["feidong-rtr1"], name="feidong-ext-rtr1", network="external")
    inv.devices[ext.name] = ext
    every = (*ALL, ext.name)
    for k in range(12):
        dead = 1 <= k <= 10  # feidong-rtr1 (专网) fails for ten minutes
        polls = [poll(d, T0 + 60 * k, ok=not (dead and d == "feidong-rtr1")) for d in every]
        assert apply_batch(centre_db, "hefei", k + 1, polls, inv)
    rows = report(centre_db, T0, T0 + 720, inv, kinds=["site"])
    county = {r["network"]: r for r in rows if r["subject"] == "hefei-feidong"}
    assert set(county) == {"internal", "external"}
    assert county["internal"]["down_s"] == 600  # dated at the first failed poll, back up at minute 11
    assert county["internal"]["availability_pct"] == round(100 * 120 / 720, 4)
    assert county["internal"]["measured_availability_pct"] < 100
    assert county["external"]["availability_pct"] == 100
    # the live state says the same, network by network (one rule: nms.sitenet), and the site's
    # own state is the worse of its networks: down, not "degraded"
    def history(kind, subject):
        return [(e["ts"], e["to"]) for e in reversed(state.events(centre_db, kind=kind, subject=subject))]

    outage = [(T0, "up"), (T0 + 60, "down"), (T0 + 660, "up")]
    assert history("site_network", "hefei-feidong/internal") == outage
    assert history("site_network", "hefei-feidong/external") == [(T0, "up")]
    assert history("site", "hefei-feidong") == outage


def test_an_agent_outage_is_no_data_never_up(centre_db):
    inv = small_inventory()
    apply_batch(centre_db, "hefei", 1, [poll("hefei-rtr1", T0)], inv)
    state.age_out(centre_db, inv, T0 + 3600, state.StateConfig())  # the agent fell silent
    (row,) = report(centre_db, T0, T0 + 3600, inv, subjects=[("device", "hefei-rtr1")])
    assert row["unknown_s"] == 3600 - 180 and row["up_s"] == 180
    assert row["availability_pct"] == 5.0  # the silent time is not counted as up
    assert row["measured_availability_pct"] == 100  # ... which only the measured figure ignores


@given(
    st.lists(
        st.lists(st.tuples(st.integers(1, 9999), st.sampled_from(availability.BUCKETS)), max_size=12),
        min_size=1,
        max_size=4,
    )
)
@hsettings(max_examples=150, deadline=None)
def test_a_site_network_timeline_covers_the_period_and_is_down_only_when_all_core_devices_are(histories):
    devices = [timeline("unknown", [(float(t), s) for t, s in sorted(h)], 0, 10000) for h in histories]
    spans = availability.site_timeline(devices, 0, 10000)
    assert spans[0][0] == 0 and spans[-1][1] == 10000
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    for s, e, st_ in spans:
        mid = (s + e) / 2
        at = [next(x for a, b, x in d if a <= mid < b) for d in devices]
        assert (st_ in ("down", "unreachable")) == (
            any(x != "unknown" for x in at) and all(x in ("down", "unreachable", "unknown") for x in at)
        )
        assert (st_ == "up") == (any(x == "up" for x in at) and all(x in ("up", "unknown") for x in at))
