"""Live state of one simulated device: boot time, interfaces, SDH defects, tunnels.

Everything is computed from timestamps at request time (counters as the integral
of the day curve since boot, minus the time spent down), so nothing ticks in the
background and a thousand devices cost no CPU while nobody polls them.
"""

from __future__ import annotations

import math
import zlib
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


def _secs(a: float, b: float, start: float, end: float) -> int:
    """Whole seconds (integer instants) of [a, b) inside [start, end)."""
    return max(0, math.ceil(min(b, end)) - math.ceil(max(a, start)))


@dataclass
class SdhState:
    """Defects and error seconds of one SDH interface (section/line/path).

    Counted as G.826 / SONET PM do: a LOS second is severely errored; a run of 10 or
    more such seconds is unavailable time (entered at the run's first second, left when
    the signal is back, the 10 clean seconds after it counting as available), and ES,
    SES and CV are not counted while unavailable.  Every quarter hour also carries a few
    background errored seconds (a stable pseudo-random number from the circuit and the
    quarter hour), as real STM-1 links do.
    """

    circuit: str = "-"
    los_since: float | None = None
    los_periods: list[tuple[float, float]] = field(default_factory=list)
    far_los: bool = False  # the far end has LOS: we see line/path RDI
    errors: list[tuple[float, int, int]] = field(default_factory=list)  # (t, es, ses)

    def _periods(self, end: float) -> list[tuple[float, float]]:
        periods = list(self.los_periods)
        if self.los_since is not None:
            periods.append((self.los_since, max(end, self.los_since)))
        return periods

    def los_seconds(self, start: float, end: float) -> int:
        """Whole seconds of LOS in [start, end): adjacent windows add up exactly."""
        return sum(_secs(a, b, start, end) for a, b in self._periods(end))

    def unavailable_seconds(self, start: float, end: float, now: float | None = None) -> int:
        """Seconds of [start, end) inside a LOS run of 10 s or more (a run still open counts
        once it has lasted 10 s)."""
        now = end if now is None else now
        return sum(_secs(a, b, start, end) for a, b in self._periods(now) if b - a >= 10)

    def background(self, start: float, end: float) -> tuple[int, int]:
        """(ES, CV) of the background errors in [start, end)."""
        es = cv = 0
        q0 = int(start // SDH_INTERVAL_S) * SDH_INTERVAL_S
        for q in range(q0, int(end) + 1, SDH_INTERVAL_S):
            h = zlib.crc32(f"{self.circuit}:{q}".encode())
            for k in range(h % 3):  # 0..2 errored seconds a quarter hour
                t = q + (h >> (4 + 8 * k)) % SDH_INTERVAL_S
                if start <= t < end and self.los_seconds(t, t + 1) == 0:
                    es += 1
                    cv += 1 + (h >> (20 + k)) % 4
        return es, cv

    def window(self, start: float, end: float) -> tuple[int, int, int]:
        """(ES, SES, UAS) in [start, end)."""
        es, ses, uas, _cv = self.counts(start, end)
        return es, ses, uas

    def counts(self, start: float, end: float) -> tuple[int, int, int, int]:
        """(ES, SES, UAS, CV) in [start, end); ES/SES/CV exclude unavailable seconds."""
        los = self.los_seconds(start, end)
        uas = self.unavailable_seconds(start, end)
        bg_es, bg_cv = self.background(start, end)
        es, ses, cv = los - uas + bg_es, los - uas, bg_cv
        for t, e, s in self.errors:
            if start <= t < end:
                es += e
                ses += s
                cv += 50 * e + 2400 * s  # an SES has >= 30 % of its 8,000 blocks errored
        span = max(0, int(end - start))
        return min(es, span), min(ses, span), min(uas, span), cv

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
