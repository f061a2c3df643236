"""Counters, day curve and outages with a fake clock (unit tests, no network)."""

from __future__ import annotations

from probes.sim import traffic
from probes.sim.state import Outage, SdhState, SimInterface

T0 = 1_764_000_000.0  # an arbitrary epoch second


def test_day_curve_peaks_in_office_hours_china_time():
    def at(hour: float) -> float:  # hour in China time (UTC+8)
        return traffic.level(T0 - (T0 + 8 * 3600) % 86400 + hour * 3600)

    assert at(10) > 0.9 and at(15.5) > 0.8
    assert at(3) < 0.2 and at(3) < at(8) < at(10)


def test_integral_is_monotonic_and_matches_levels():
    xs = [traffic.integral(T0 + k * 37.5) for k in range(5000)]
    assert all(b > a for a, b in zip(xs, xs[1:], strict=False))
    one_day = traffic.integral(T0 + 86400) - traffic.integral(T0)
    assert abs(one_day - traffic.DAY_TOTAL) < 1e-3


def test_interface_counters_pause_while_down_and_reset_on_reboot():
    itf = SimInterface(1, "Gi0/0/1", 10**9, 6, True, peak_in=1e6, peak_out=5e5)
    boot = T0 - 86400
    a = itf.octets(boot, T0)
    itf.outage.add("admin", T0)
    b = itf.octets(boot, T0 + 600)
    assert a == b and a[0] > 0 and a[0] > a[1]
    itf.outage.remove("admin", T0 + 600)
    c = itf.octets(boot, T0 + 660)
    assert c[0] > a[0]
    # after coming back, growth equals the curve integral over the time up only
    expect = 1e6 * (traffic.integral(T0 + 660) - traffic.integral(T0 + 600))
    assert abs((c[0] - a[0]) - expect) < 2
    itf.outage.reset(T0 + 700)  # reboot
    assert itf.octets(T0 + 700, T0 + 700) == (0, 0)


def test_outage_reasons_stack():
    o = Outage()
    o.add("link:x", T0)
    o.add("admin", T0 + 1)
    o.remove("link:x", T0 + 2)
    assert o.down
    o.remove("admin", T0 + 3)
    assert not o.down and o.last_change == T0 + 3


def test_sdh_window_counts_los_and_injected_errors():
    s = SdhState()
    s.los_periods.append((T0 + 100, T0 + 130))  # 30 s of LOS: unavailable (10 SES or more in a row)
    s.los_periods.append((T0 + 300, T0 + 305))  # 5 s: severely errored, still available
    s.errors.append((T0 + 200, 5, 2))
    bg_es, _ = s.background(T0, T0 + 900)
    es, ses, uas = s.window(T0, T0 + 900)
    assert (es, ses, uas) == (5 + 5 + bg_es, 5 + 2, 30)  # ES/SES are not counted while unavailable
    assert s.window(T0 + 900, T0 + 1800) == (s.background(T0 + 900, T0 + 1800)[0], 0, 0)


def test_sdh_unavailable_time_starts_with_the_tenth_ses_and_covers_the_run():
    s = SdhState(los_since=T0 + 100)
    assert s.counts(T0, T0 + 105)[1:3] == (5, 0)  # 5 SES, not yet unavailable
    es, ses, uas, _cv = s.counts(T0, T0 + 160)
    assert (ses, uas) == (0, 60) and es == s.background(T0, T0 + 160)[0]  # the first 10 s turned UAS too


def test_sdh_background_errors_are_stable_and_few():
    s = SdhState(circuit="AH-SDH-0001")
    seen = [s.background(T0 + k * 900, T0 + (k + 1) * 900) for k in range(96)]
    assert seen == [s.background(T0 + k * 900, T0 + (k + 1) * 900) for k in range(96)]  # re-read: same
    assert all(es <= 2 for es, _ in seen) and any(es for es, _ in seen) and any(not es for es, _ in seen)
