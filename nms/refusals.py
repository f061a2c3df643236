"""Why ingest refuses a batch whole: the errors :mod:`nms.pipeline` raises and
:mod:`nms.clockskew` records, apart from both so that neither imports the other for them."""

from __future__ import annotations

from typing import Any


class BatchError(ValueError):
    """A batch refused whole; ``status`` is the HTTP status to answer with, ``extra`` more JSON."""

    def __init__(self, status: int, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}


class ClockSkew(BatchError):
    """Samples dated too far ahead of the centre's clock: the agent's clock is wrong.

    ``extra["clock_skew"]["samples"]`` lists every such sample, so an agent can set them
    all aside in one go instead of one round trip per sample.
    """

    def __init__(self, ahead: list[int], samples: list[dict], now: float, max_skew_s: float) -> None:
        first = ahead[0]
        ts = samples[first]["ts"]
        super().__init__(
            422,
            f"samples[{first}].ts: {ts} is {ts - now:.0f} s ahead of the centre's clock ({now:.0f});"
            f" at most {max_skew_s:g} s ahead is accepted (NMS_INGEST_MAX_FUTURE_SKEW_S)."
            f" Agent clock skew: {len(ahead)} of {len(samples)} samples are ahead, the batch is refused"
            " whole; fix the agent's clock (NTP)",
            {
                "clock_skew": {
                    "sample_ts": ts,
                    "centre_ts": now,
                    "ahead_s": ts - now,
                    "max_skew_s": max_skew_s,
                    "samples": ahead,
                }
            },
        )
        self.sample_ts = ts
        self.centre_ts = now
        self.max_skew_s = max_skew_s
