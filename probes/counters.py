"""Counters that never lie: rates from two samples, or ``None`` when they cannot be proved.

Pure functions do the arithmetic; :class:`RateTracker` keeps the previous sample of
each device (the agent holds one tracker).  Raw counters stay in the poll result so
rates can be recomputed later.  A rate is withheld (None) across a reboot, a counter
discontinuity, an ifIndex that changed meaning, a counter going backwards that is not
a plausible 32-bit wrap, and whenever it would exceed the interface speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WRAP32 = 2**32  # Counter32 and TimeTicks modulus
ENGINE_TIME_MAX = 2**31 - 1  # snmpEngineTime (seconds)


def _tolerance(elapsed: float) -> float:
    """Seconds of slack allowed between wall clock and device clock over ``elapsed``."""
    return max(5.0, 0.1 * elapsed)


def uptime_reset(
    prev: float | None, cur: float | None, elapsed_s: float, unit_s: float = 0.01, modulus: int = WRAP32
) -> bool | None:
    """Did the device (agent) restart between two uptime readings?

    ``prev``/``cur`` are raw readings in ``unit_s`` seconds (TimeTicks: 0.01).  Returns
    None when this source cannot tell (missing, or frozen: a replayed walk).  A reading
    below the previous one is a reboot unless it is where a wrap would put it (sysUpTime
    wraps after 497 days); a reading that grew much less than the wall clock also means
    a reboot in between.
    """
    if prev is None or cur is None or elapsed_s <= 0:
        return None
    if cur == prev:
        return None
    tol = _tolerance(elapsed_s) / unit_s
    expected = prev + elapsed_s / unit_s
    if cur > prev:
        return cur < expected - tol
    # went backwards: a wrap lands near expected - modulus
    if expected >= modulus:
        return abs(cur - (expected - modulus)) > tol
    return True


def device_reset(prev_ident: dict, cur_ident: dict, elapsed_s: float) -> bool:
    """Restart verdict from the best uptime source both samples share.

    snmpEngineTime (seconds, never wraps in practice) first, then hrSystemUptime (host
    uptime) and sysUpTime (agent uptime), both TimeTicks with wrap arithmetic.
    """
    sources = (
        ("snmpEngineTime", 1.0, ENGINE_TIME_MAX + 1),
        ("hrSystemUptime", 0.01, WRAP32),
        ("sysUpTime", 0.01, WRAP32),
    )
    for key, unit, mod in sources:
        verdict = uptime_reset(prev_ident.get(key), cur_ident.get(key), elapsed_s, unit, mod)
        if verdict is not None:
            return verdict
    return False


def counter_delta(prev: int | None, cur: int | None, hc: bool) -> int | None:
    """Increase of a counter; one 32-bit wrap is allowed, a 64-bit counter going back is a reset."""
    if prev is None or cur is None:
        return None
    if cur >= prev:
        return cur - prev
    if hc:
        return None
    return cur + WRAP32 - prev


def rate_bps(
    prev_octets: int | None, cur_octets: int | None, elapsed_s: float, hc: bool, speed_bps: float | None
) -> float | None:
    """bit/s between two octet counters, None when not provable or above the line speed."""
    if elapsed_s <= 0:
        return None
    delta = counter_delta(prev_octets, cur_octets, hc)
    if delta is None:
        return None
    bps = delta * 8.0 / elapsed_s
    if speed_bps and bps > speed_bps:
        return None  # a wrap we mis-guessed or a counter reset: never report the impossible
    if (
        not hc
        and cur_octets is not None
        and prev_octets is not None
        and cur_octets < prev_octets
        and not speed_bps
    ):
        return None  # a 32-bit wrap cannot be told from a reset without a speed to bound it
    return round(bps, 3)


@dataclass
class _Sample:
    ts: float
    identity: dict
    interfaces: dict[int, dict] = field(default_factory=dict)


class RateTracker:
    """Remembers the previous sample per device and fills ``in_bps``/``out_bps``."""

    def __init__(self) -> None:
        self._prev: dict[str, _Sample] = {}

    def apply(self, result: dict) -> dict:
        """Fill rates in ``result`` (in place, also returned) from the previous sample."""
        for row in result.get("interfaces") or []:
            row.setdefault("in_bps", None)
            row.setdefault("out_bps", None)
        if not result.get("ok"):
            return result  # keep the last good sample; the next good one is compared with it
        device = result.get("device") or ""
        cur = _Sample(
            float(result["ts"]),
            dict(result.get("identity") or {}),
            {r["index"]: r for r in result.get("interfaces") or []},
        )
        prev = self._prev.get(device)
        self._prev[device] = _Sample(cur.ts, cur.identity, {k: _keep(v) for k, v in cur.interfaces.items()})
        if prev is None:
            return result
        elapsed = cur.ts - prev.ts
        if elapsed <= 0 or device_reset(prev.identity, cur.identity, elapsed):
            return result
        for idx, row in cur.interfaces.items():
            old = prev.interfaces.get(idx)
            if (
                not old
                or old["name"] != row.get("name")
                or old["hc"] != row.get("hc")
                or old["discontinuity"] != row.get("discontinuity")
            ):
                continue
            hc = bool(row.get("hc"))
            speed = row.get("speed_bps")
            row["in_bps"] = rate_bps(old["in_octets"], row.get("in_octets"), elapsed, hc, speed)
            row["out_bps"] = rate_bps(old["out_octets"], row.get("out_octets"), elapsed, hc, speed)
        return result

    def forget(self, device: str) -> None:
        self._prev.pop(device, None)


def _keep(row: dict) -> dict:
    return {k: row.get(k) for k in ("name", "hc", "discontinuity", "in_octets", "out_octets")}
