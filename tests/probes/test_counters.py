"""Hand-made counter sequences: wraps, 64-bit, reboots, discontinuities, backwards counters."""

from __future__ import annotations

from probes.counters import RateTracker, counter_delta, device_reset, rate_bps, uptime_reset

GIG = 1_000_000_000


def sample(
    ts, in_oct, out_oct=0, *, hc=True, uptime=None, engine=None, disc=0, name="ge0", speed=GIG, ok=True
):
    ident = {
        "sysUpTime": uptime if uptime is not None else int(ts * 100),
        "snmpEngineTime": engine,
        "hrSystemUptime": None,
    }
    return {
        "device": "d1",
        "ts": ts,
        "ok": ok,
        "identity": ident,
        "interfaces": [
            {
                "index": 1,
                "name": name,
                "hc": hc,
                "discontinuity": disc,
                "speed_bps": speed,
                "in_octets": in_oct,
                "out_octets": out_oct,
            }
        ],
    }


def rates(seq):
    t = RateTracker()
    return [t.apply(s)["interfaces"][0]["in_bps"] if s["interfaces"] else None for s in seq]


def test_first_sample_has_no_rate_and_second_has_exact_rate():
    r = rates([sample(1000, 0), sample(1300, 3_750_000)])
    assert r == [None, 100_000.0]  # 3.75 MB in 300 s = 100 kbit/s


def test_32bit_wrap_is_unwrapped():
    start = 2**32 - 1_000_000
    r = rates([sample(1000, start, hc=False), sample(1300, 2_750_000, hc=False)])
    assert r[1] == round((1_000_000 + 2_750_000) * 8 / 300, 3)


def test_32bit_wrap_without_speed_is_not_guessed():
    r = rates([sample(1000, 2**32 - 10, hc=False, speed=None), sample(1300, 5, hc=False, speed=None)])
    assert r[1] is None


def test_64bit_counter_large_values_and_backwards_means_reset():
    big = 2**63
    r = rates([sample(1000, big), sample(1300, big + 375_000_000), sample(1600, 1000)])
    assert r[1] == 10_000_000.0
    assert r[2] is None  # a 64-bit counter going back is a reset, never a wrap


def test_reboot_by_sysuptime_gives_no_rate():
    r = rates([sample(1000, 10_000_000, uptime=500_000), sample(1300, 20_000, uptime=1_000)])
    assert r[1] is None


def test_reboot_hidden_by_growth_is_detected():
    # uptime grew, but far less than the 3600 s that passed: the device restarted meanwhile
    r = rates([sample(1000, 1000, uptime=100_00), sample(4600, 2_000_000, uptime=200_00)])
    assert r[1] is None


def test_sysuptime_497_day_wrap_is_not_a_reboot():
    prev_ticks = 2**32 - 10_000  # 100 s before the TimeTicks wrap
    cur_ticks = 20_000  # 200 s after it: 300 s elapsed
    assert uptime_reset(prev_ticks, cur_ticks, 300.0) is False
    r = rates([sample(1000, 0, uptime=prev_ticks), sample(1300, 375_000, uptime=cur_ticks)])
    assert r[1] == 10_000.0


def test_engine_time_preferred_over_sysuptime():
    prev = {"snmpEngineTime": 5000, "sysUpTime": 10}
    cur = {"snmpEngineTime": 5300, "sysUpTime": 5}  # agent's sysUpTime odd, engine clock fine
    assert device_reset(prev, cur, 300) is False
    assert device_reset({"snmpEngineTime": 5000}, {"snmpEngineTime": 20}, 300) is True


def test_frozen_uptime_source_is_ignored():
    assert uptime_reset(777, 777, 300) is None


def test_discontinuity_change_gives_no_rate():
    r = rates([sample(1000, 0, disc=0), sample(1300, 1000, disc=12345), sample(1600, 2000, disc=12345)])
    assert r[1] is None and r[2] == round(1000 * 8 / 300, 3)


def test_counter_backwards_without_reboot_on_hc_gives_none_then_recovers():
    r = rates([sample(1000, 5_000_000), sample(1300, 4_000_000), sample(1600, 4_375_000)])
    assert r[1] is None
    assert r[2] == 10_000.0


def test_rate_above_interface_speed_is_withheld():
    assert rate_bps(0, 10**12, 300, True, GIG) is None
    assert rate_bps(0, 10**6, 300, True, GIG) is not None


def test_never_negative():
    for prev, cur, hc in [(10, 5, True), (10, 5, False), (2**32 - 1, 0, False)]:
        v = rate_bps(prev, cur, 300, hc, 10 * GIG)
        assert v is None or v >= 0
    assert counter_delta(5, 10, True) == 5


def test_index_renamed_gives_no_rate():
    r = rates([sample(1000, 0, name="ge0"), sample(1300, 1000, name="ge9")])
    assert r[1] is None


def test_failed_poll_keeps_previous_sample():
    seq = [sample(1000, 0), sample(1300, 0, ok=False), sample(1600, 750_000)]
    seq[1]["interfaces"] = []
    r = rates(seq)
    assert r[2] == 750_000 * 8 / 600
