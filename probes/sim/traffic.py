"""Traffic that looks like a government office network: a day curve, in China time.

Counters are the integral of the rate since the device's boot, so two requests one
minute apart always see consistent growth, without any per-second ticking.  The
curve is a step function per minute, which makes the integral exact and cheap.
"""

from __future__ import annotations

import math

CHINA_OFFSET_S = 8 * 3600
_MINUTES = 1440


def level_at_hour(h: float) -> float:
    """Relative traffic 0.1..1: low at night, peaks mid-morning (10:00) and afternoon (15:30)."""
    morning = math.exp(-(((h - 10.0) / 1.7) ** 2))
    afternoon = 0.9 * math.exp(-(((h - 15.5) / 2.0) ** 2))
    return 0.1 + 0.9 * max(morning, afternoon)


CURVE = [level_at_hour((m + 0.5) / 60.0) for m in range(_MINUTES)]
CUM = [0.0]
for _c in CURVE:
    CUM.append(CUM[-1] + 60.0 * _c)
DAY_TOTAL = CUM[-1]
MEAN_LEVEL = DAY_TOTAL / 86400.0


def level(t: float) -> float:
    """Relative traffic level at epoch time ``t``."""
    s = (t + CHINA_OFFSET_S) % 86400.0
    return CURVE[int(s // 60.0)]


def integral(t: float) -> float:
    """Seconds-at-peak elapsed from an arbitrary origin up to epoch ``t``."""
    x = t + CHINA_OFFSET_S
    days, s = divmod(x, 86400.0)
    m = int(s // 60.0)
    return days * DAY_TOTAL + CUM[m] + CURVE[m] * (s - 60.0 * m)
