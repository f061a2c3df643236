"""SDH at the centre: the defect state of every SDH port, its 15-minute buckets, G.826.

The agents report per SDH port the defects of the three layers every poll and every
completed 15-minute interval once (``sdh[]`` of the poll result, probes/sdh.py).
Kept here, beside the up/down state of :mod:`nms.state`:

* ``state_sdh``: the current defects of each port (section, line, path), since when,
  as of which poll.  A late poll never overwrites a newer one.
* ``state_sdh_pm``: one row per port, layer and interval end (ES, SES, UAS, CV, SEFS,
  ValidData); keyed by the interval end, so a bucket delivered twice is stored once.

G.826 (:func:`g826`) from those buckets, per the recommendation's definitions:

* ES / SES / UAS are the device's own counts.  A SONET/SDH device counts UAS exactly as
  G.826 defines unavailable time (entered with 10 consecutive SES, left with 10
  consecutive non-SES, the 10 seconds belonging to the new period) and stops counting
  ES, SES and CV while unavailable.  15-minute totals cannot show which seconds were in
  a row, so the centre takes UAS from the device and does not re-derive it.
* available time = the bucket's 900 s less its UAS;  ESR = ES / available s;
  SESR = SES / available s.
* BBE = errored blocks outside SES.  The MIB gives coding violations (CV), counted per
  block's BIP: one CV is taken as one errored block (exact at the low error rates BBER
  is meant for; B3 can flag up to 8 per block).  An SES second has at least 30 % of its
  blocks errored, so ``ceil(0.3 x 8000)`` CVs per SES are taken off as belonging to
  SES (what remains is the background, a lower bound when SES were heavier).
  BBER = BBE / blocks of the available, non-SES seconds (8,000 blocks a second: VC-4 and
  the STM-1 frame rate).
* The path layer (VC-4, B3) is the G.826 path; a device without path rows is measured
  on the line (multiplex section, B2).  Buckets with ValidData false are left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from nms.store import run_ddl
from probes.common.inventory_model import Inventory, Link
from probes.common.subject import interface

BUCKET_S = 900
BLOCKS_PER_S = 8000
SES_BLOCKS = math.ceil(0.3 * BLOCKS_PER_S)
LAYERS = ("section", "line", "path")


def ensure_schema(db: sqlite_utils.Database) -> None:
    run_ddl(
        db,
        """
        CREATE TABLE IF NOT EXISTS state_sdh (
            device TEXT NOT NULL, interface TEXT NOT NULL,
            section TEXT NOT NULL DEFAULT '', line TEXT NOT NULL DEFAULT '', path TEXT NOT NULL DEFAULT '',
            since REAL, last_ts REAL NOT NULL,
            PRIMARY KEY (device, interface)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS state_sdh_pm (
            device TEXT NOT NULL, interface TEXT NOT NULL, layer TEXT NOT NULL,
            interval_end INTEGER NOT NULL,
            es INTEGER, ses INTEGER, uas INTEGER, cv INTEGER, sefs INTEGER,
            valid INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (device, interface, layer, interval_end)) WITHOUT ROWID;
        """,
    )


def store(db: sqlite_utils.Database, polls: Iterable[Mapping[str, Any]]) -> None:
    """Defect state and per-layer buckets of the polls' SDH ports (inside the caller's transaction)."""
    polls = [p for p in polls if p.get("ok") and p.get("sdh")]
    if not polls:
        return
    known = {
        (d, i): (ts, since, defects)
        for d, i, ts, since, *defects in db.execute(
            "SELECT device, interface, last_ts, since, section, line, path FROM state_sdh"
        )
    }
    states: dict[tuple[str, str], tuple] = {}
    pm: list[tuple] = []
    for p in sorted(polls, key=lambda p: p["ts"]):
        names = {i.get("index"): i.get("name") for i in p.get("interfaces") or []}
        ts = float(p["ts"])
        for s in p.get("sdh") or []:
            name = names.get(s["ifIndex"]) or str(s["ifIndex"])
            key = (p["device"], name)
            defects = [",".join(s.get(f"{k}_status") or []) for k in LAYERS]
            last = known.get(key)
            if last is None or ts > last[0]:
                since = last[1] if last is not None and last[2] == defects else ts
                known[key] = (ts, since, defects)
                states[key] = (*key, *defects, since, ts)
            for b in s.get("buckets") or []:
                # A bucket without layers (an agent older than the layers): its counts are the line's.
                layered = any(isinstance(b.get(k), Mapping) for k in LAYERS)
                for layer in LAYERS:
                    c = b.get(layer) if layered else (b if layer == "line" else None)
                    if isinstance(c, Mapping):
                        pm.append(
                            (
                                *key,
                                layer,
                                int(b["interval_end"]),
                                c.get("es"),
                                c.get("ses"),
                                c.get("uas"),
                                c.get("cv"),
                                c.get("sefs"),
                                1 if b.get("valid", True) else 0,
                            )
                        )
    if states:
        db.conn.executemany(
            "INSERT OR REPLACE INTO state_sdh (device, interface, section, line, path, since, last_ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            list(states.values()),
        )
    if pm:
        db.conn.executemany(
            "INSERT OR REPLACE INTO state_sdh_pm"
            " (device, interface, layer, interval_end, es, ses, uas, cv, sefs, valid)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            pm,
        )


def current(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """{"device:interface": {section, line, path: [defect names], defects, since, last_ts}}."""
    out = {}
    for dev, itf, sec, line, path, since, last in db.execute(
        "SELECT device, interface, section, line, path, since, last_ts FROM state_sdh"
    ):
        layers = {k: [x for x in v.split(",") if x] for k, v in zip(LAYERS, (sec, line, path), strict=True)}
        out[interface(dev, itf)] = {
            **layers,
            "defects": sorted({d for v in layers.values() for d in v}),
            "since": since,
            "last_ts": last,
        }
    return out


# ---- G.826 ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class G826:
    buckets: int
    seconds: int
    available_s: int
    uas_s: int
    es: int
    ses: int
    bbe: int
    blocks: int  # blocks of the available, non-SES seconds
    esr: float | None
    sesr: float | None
    bber: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def g826(buckets: Iterable[Mapping[str, Any]]) -> G826:
    """G.826 figures of 15-minute buckets ({es, ses, uas, cv}, one layer); see the module doc."""
    n = seconds = avail = uas_s = es = ses = bbe = blocks = 0
    for b in buckets:
        uas = max(0, min(int(b.get("uas") or 0), BUCKET_S))
        a = BUCKET_S - uas
        s = max(0, min(int(b.get("ses") or 0), a))
        n += 1
        seconds += BUCKET_S
        avail += a
        uas_s += uas
        es += max(s, min(int(b.get("es") or 0), a))
        ses += s
        bbe += max(0, int(b.get("cv") or 0) - s * SES_BLOCKS)
        blocks += (a - s) * BLOCKS_PER_S
    return G826(
        buckets=n,
        seconds=seconds,
        available_s=avail,
        uas_s=uas_s,
        es=es,
        ses=ses,
        bbe=bbe,
        blocks=blocks,
        esr=es / avail if avail else None,
        sesr=ses / avail if avail else None,
        bber=bbe / blocks if blocks else None,
    )


def line_buckets(db: sqlite_utils.Database, t0: float, t1: float) -> list[tuple]:
    """(device, interface, interval_end, es, ses, uas, valid) of every port's line layer,
    for the buckets ending in (t0, t1], oldest first: what UAS availability reads."""
    return db.execute(
        "SELECT device, interface, interval_end, es, ses, uas, valid FROM state_sdh_pm"
        " WHERE layer = 'line' AND interval_end > ? AND interval_end <= ? ORDER BY interval_end",
        (t0, t1),
    ).fetchall()


def latest_line_buckets(db: sqlite_utils.Database, since: float) -> list[tuple]:
    """(device, interface, interval_end, es, ses) of each port's newest valid line bucket
    ending at or after ``since``: what the errored-seconds rule reads."""
    return db.execute(
        """SELECT u.device, u.interface, u.interval_end, u.es, u.ses FROM state_sdh_pm u
           JOIN (SELECT device, interface, MAX(interval_end) AS e FROM state_sdh_pm
                 WHERE layer = 'line' AND valid = 1 AND interval_end >= ? GROUP BY device, interface) m
             ON u.device = m.device AND u.interface = m.interface AND u.interval_end = m.e
           WHERE u.layer = 'line'""",
        (since,),
    ).fetchall()


def recent_line_buckets(
    db: sqlite_utils.Database, device: str, interface: str, since: float, limit: int = 96
) -> list[dict[str, Any]]:
    """One port's line buckets ending at or after ``since``, newest first (the link page)."""
    rows = db.execute(
        "SELECT interval_end, es, ses, uas, valid FROM state_sdh_pm WHERE layer = 'line'"
        " AND device = ? AND interface = ? AND interval_end >= ? ORDER BY interval_end DESC LIMIT ?",
        (device, interface, since, limit),
    ).fetchall()
    cols = ("interval_end", "es", "ses", "uas")
    return [{**dict(zip(cols, r[:4], strict=True)), "valid": bool(r[4])} for r in rows]


def port_buckets(
    db: sqlite_utils.Database, device: str, interface: str, t0: float, t1: float
) -> tuple[str | None, list[dict[str, Any]]]:
    """(layer, valid buckets ending in (t0, t1]) of one port: the path layer, else the line."""
    for layer in ("path", "line"):
        rows = db.execute(
            "SELECT interval_end, es, ses, uas, cv FROM state_sdh_pm WHERE device = ? AND interface = ?"
            " AND layer = ? AND valid = 1 AND interval_end > ? AND interval_end <= ? ORDER BY interval_end",
            (device, interface, layer, t0 + BUCKET_S - 1, t1),
        ).fetchall()
        if rows:
            cols = ("interval_end", "es", "ses", "uas", "cv")
            return layer, [dict(zip(cols, r, strict=True)) for r in rows]
    return None, []


def link_g826(
    db: sqlite_utils.Database,
    link: Link,
    t0: float,
    t1: float,
    keep: Callable[[int], bool] | None = None,
) -> dict[str, Any]:
    """G.826 of one SDH link over [t0, t1): each end measures its receive direction; the
    link's figures are the worse direction's (higher SESR, then ESR, then BBER).  ``keep``
    picks buckets by their end time (availability leaves out maintenance)."""
    ends = []
    for e in (link.a, link.b):
        layer, rows = port_buckets(db, e.device, e.interface, t0, t1)
        rows = [r for r in rows if keep is None or keep(r["interval_end"])]
        ends.append({"end": interface(e.device, e.interface), "layer": layer, **g826(rows).as_dict()})
    measured = [e for e in ends if e["buckets"]]
    worst = max(measured, key=lambda e: (e["sesr"] or 0, e["esr"] or 0, e["bber"] or 0), default=None)
    return {"link": link.id, "worst": worst, "ends": ends}


def link_report(
    db: sqlite_utils.Database, inventory: Inventory, t0: float, t1: float
) -> list[dict[str, Any]]:
    """:func:`link_g826` of every SDH link of the inventory."""
    links = sorted((lk for lk in inventory.links.values() if lk.kind == "sdh-stm1"), key=lambda lk: lk.id)
    return [link_g826(db, lk, t0, t1) for lk in links]
