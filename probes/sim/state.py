"""Live state of one simulated device: boot time, interfaces, SDH defects, tunnels.

Everything is computed from timestamps at request time (counters as the integral
of the day curve since boot, minus the time spent down), so nothing ticks in the
background and a thousand devices cost no CPU while nobody polls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from probes.sim import traffic

SDH_INTERVAL_S = 900


class Outage:
    """Reasons something is down, and the traffic integral lost while it was."""

    def __init__(self) -> None:
        self.reasons: set[str] = set()
        self.since: float | None = None
        self.paused = 0.0  # traffic.integral units not counted since boot
        self.last_change = 0.0

    @property
    def down(self) -> bool:
        return bool(self.reasons)

    def add(self, reason: str, now: float) -> None:
        if not self.reasons:
            self.since = now
            self.last_change = now
        self.reasons.add(reason)

    def remove(self, reason: str, now: float) -> None:
        if reason not in self.reasons:
            return
        self.reasons.discard(reason)
        if not self.reasons and self.since is not None:
            self.paused += traffic.integral(now) - traffic.integral(self.since)
            self.since = None
            self.last_change = now

    def reset(self, boot: float) -> None:
        self.paused = 0.0
        self.last_change = boot
        if self.reasons:
            self.since = boot

    def active_integral(self, boot: float, now: float) -> float:
        end = self.since if self.since is not None else now
        return max(0.0, traffic.integral(end) - traffic.integral(boot) - self.paused)


@dataclass
class SdhState:
    """Defects and error seconds of one SDH interface (section/line/path)."""

    circuit: str = "-"
    los_since: float | None = None
    los_periods: list[tuple[float, float]] = field(default_factory=list)
    far_los: bool = False  # the far end has LOS: we see line/path RDI
    errors: list[tuple[float, int, int]] = field(default_factory=list)  # (t, es, ses)

    def los_seconds(self, start: float, end: float) -> int:
        total = 0.0
        periods = list(self.los_periods)
        if self.los_since is not None:
            periods.append((self.los_since, end))
        for a, b in periods:
            total += max(0.0, min(b, end) - max(a, start))
        return int(total)

    def window(self, start: float, end: float) -> tuple[int, int, int]:
        """(ES, SES, UAS) in [start, end)."""
        los = self.los_seconds(start, end)
        es = ses = los
        for t, e, s in self.errors:
            if start <= t < end:
                es += e
                ses += s
        uas = los if los >= 10 else 0
        return min(es, 900), min(ses, 900), min(uas, 900)

    def prune(self, now: float, keep_s: float) -> None:
        cutoff = now - keep_s
        self.los_periods = [p for p in self.los_periods if p[1] >= cutoff]
        self.errors = [e for e in self.errors if e[0] >= cutoff]


@dataclass
class SimInterface:
    index: int
    name: str
    speed_bps: int
    iftype: int
    hc: bool
    peak_in: float  # octets/s at the top of the day curve
    peak_out: float
    alias: str = ""
    xtable: bool = True  # the walk has ifXTable rows (ifName, ifAlias, ifHighSpeed)
    sdh: SdhState | None = None
    outage: Outage = field(default_factory=Outage)

    def octets(self, boot: float, now: float) -> tuple[int, int]:
        x = self.outage.active_integral(boot, now)
        return int(self.peak_in * x), int(self.peak_out * x)


@dataclass
class SimTunnel:
    index: int
    peer: str
    peer_address: str
    peak: float  # octets/s each way at the top of the day curve
    outage: Outage = field(default_factory=Outage)
    established: float = 0.0

    def set(self, reason: str, down: bool, now: float) -> None:
        was_down = self.outage.down
        if down:
            self.outage.add(reason, now)
        else:
            self.outage.remove(reason, now)
        if was_down and not self.outage.down:
            self.established = now
