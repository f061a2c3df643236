"""Alert evaluation: conditions -> alerts (pending -> firing -> resolved) -> outbox rows.

One :meth:`Engine.evaluate` reads the current conditions (cheap queries over what the
state machine and the other modules wrote), then in one short transaction: dedups per
rule and subject, applies grace periods, flap detection, maintenance and silences,
folds consequences under their root cause, escalates, and queues notifications.  It
never talks to the network: sending is :mod:`nms.alerts.outbox`'s job.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nms import maintenance, state
from nms.alerts import flap
from nms.alerts import store as alert_store
from nms.alerts.channels import ChannelConfig
from nms.alerts.conditions import Condition, gather
from nms.alerts.message import _Safe
from nms.alerts.rules import RuleSet
from nms.alerts.topology import RootCause, assign_roots
from nms.db import Database, transaction
from nms.updates import notify_state_updated, wait_for_update
from probes.common.inventory_model import Inventory
from probes.common.subject import interface

log = logging.getLogger(__name__)
__all__ = ["Engine", "EvalStats", "notify_state_updated", "wait_for_update"]

CHILDREN_MAX = 200
OPEN = ("pending", "firing")
EVAL_ATTEMPTS = 3  # overlapping evaluations: read the conditions again at most this often


@dataclass
class EvalStats:
    conditions: int = 0
    created: int = 0
    fired: int = 0
    resolved: int = 0
    suppressed: int = 0
    queued: int = 0
    duration_s: float = 0.0


@dataclass
class Engine:
    rules: RuleSet
    inventory: Inventory | None
    channels: ChannelConfig | None = None
    metrics_every_s: float = 60.0
    _last_metrics: float = field(default=0.0, init=False)

    # ---- helpers -------------------------------------------------------------------------
    def topology(self) -> RootCause | None:
        """The graph :mod:`nms.state` uses too (built once per inventory, rebuilt when it is edited)."""
        if self.inventory is None:
            return None
        return RootCause.build(self.inventory)

    def subject_name(self, kind: str, subject: str) -> str:
        inv = self.inventory
        if inv is not None:
            if kind == "site" and subject in inv.sites:
                return inv.sites[subject].name_zh
            if kind == "portal" and subject in inv.portals:
                return inv.portals[subject].name
            if kind == "link" and subject in inv.links:
                link = inv.links[subject]
                ends = (interface(e.device, e.interface) for e in (link.a, link.b))
                return f"{subject} ({' - '.join(ends)})"
        return subject

    def reported_rules(self) -> set[str]:
        """Rules on what devices report (device_event): neither a consequence of an outage nor its
        cause, so never folded under a root alert nor one themselves."""
        return {r.name for r in self.rules.rules if r.kind == "device_event"}

    def site_name(self, site: str | None) -> str:
        inv = self.inventory
        return inv.sites[site].name_zh if inv is not None and site in inv.sites else (site or "")

    # ---- evaluation ------------------------------------------------------------------------
    def evaluate(
        self,
        db: Database,
        now: float | None = None,
        metrics_db: Database | None = None,
    ) -> EvalStats:
        """Read the conditions, then apply them in one transaction, unless another evaluation
        (another centre, by accident) committed in between: then read them again, as it did."""
        t_start = time.perf_counter()
        for _ in range(EVAL_ATTEMPTS):
            stats = self._attempt(db, time.time() if now is None else now, metrics_db)
            if stats is not None:
                break
            log.info("alerts: another evaluation committed meanwhile; reading the conditions again")
        else:
            log.warning("alerts: %d evaluations overlapped this one; skipped it", EVAL_ATTEMPTS)
            stats = EvalStats()
        stats.duration_s = time.perf_counter() - t_start
        return stats

    def _attempt(self, db: Database, now: float, metrics_db: Database | None) -> EvalStats | None:
        """One evaluation; None when the generation read before gathering moved on meanwhile."""
        generation = db.execute("SELECT generation FROM alert_eval WHERE id = 1").fetchone()[0]
        with_metrics = metrics_db is not None and now - self._last_metrics >= self.metrics_every_s
        conds, done = gather(db, self.rules, self.inventory, now, metrics_db, with_metrics)
        stats = EvalStats(conditions=len(conds))
        counts = flap.flapping(db, now, self.rules.flap_window_s, self.rules.flap_threshold)
        topo = self.topology()
        apart = self.reported_rules()
        outages = [c for c in conds if c.rule.name not in apart]
        roots = (
            assign_roots(
                topo, [(c.kind, c.subject) for c in outages], {(c.kind, c.subject): c.reason for c in outages}
            )
            if topo
            else {}
        )
        wins = maintenance.windows(db)
        modes = alert_store.window_modes(db)
        active = [w for w in wins if w.occurrences(now, now + 1)]
        silences = alert_store.silenced(db, now)

        def maint(kind: str, subject: str) -> str | None:
            inv = self.inventory
            hit = [modes.get(w.id, "mute") for w in active if maintenance.covers(w, kind, subject, inv)]
            return ("skip" if "skip" in hit else "mute") if hit else None

        with transaction(db):
            claimed = db.execute(
                "UPDATE alert_eval SET generation = generation + 1, ts = ? WHERE id = 1 AND generation = ?",
                (now, generation),
            ).rowcount
            if claimed != 1:
                return None
            self._apply(db, now, conds, done, counts, roots, maint, silences, stats)
        if with_metrics:
            self._last_metrics = now
        return stats

    def _apply(
        self,
        db,
        now,
        conds: list[Condition],
        done: set[str],
        counts,
        roots,
        maint,
        silences,
        stats: EvalStats,
    ) -> None:
        open_rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in db.query(f"SELECT * FROM alert_alerts WHERE state IN {OPEN}"):
            open_rows[(row["rule"], row["subject_kind"], row["subject_id"])] = row
        seen: set[tuple[str, str, str]] = set()

        for c in conds:
            mode = maint(c.kind, c.subject)
            if mode == "skip":
                continue
            seen.add(c.key)
            muted = "maintenance" if mode else ("silence" if c.key in silences else None)
            row = open_rows.get(c.key)
            if row is None:
                row = self._reopen(db, c, now, counts) or self._create(db, c, now)
                if row["state"] == "pending":
                    stats.created += 1
                open_rows[c.key] = row
            summary = self._summary(c)
            row.update(
                last_seen_ts=now, summary=summary, reason=c.reason, value=c.value, site=c.site, muted=muted
            )
            if row["state"] == "pending" and now - row["started_ts"] >= c.rule.grace_s:
                row.update(state="firing", fired_ts=now)
                self._history(db, row["id"], now, "fired", summary)
                stats.fired += 1

        for key, row in list(open_rows.items()):
            if key in seen:
                continue
            rule = self.rules.get(row["rule"])
            if rule is not None and rule.enabled and row["rule"] not in done:
                continue  # not evaluated this time (metrics throttled, or the rule failed): leave it
            if maint(row["subject_kind"], row["subject_id"]) == "skip":
                pass  # a skip window drops the alert: resolve below
            elif (
                rule is not None
                and rule.flaps
                and flap.is_flapping(counts, row["subject_kind"], row["subject_id"])
            ):
                continue  # flapping: stays open until it calms down
            row.update(state="resolved", resolved_ts=now)
            self._history(db, row["id"], now, "resolved", None if rule else "rule removed")
            stats.resolved += 1

        # root cause first (children lists go into the pages), then flapping, paging, escalation
        by_subject: dict[tuple[str, str], dict[str, Any]] = {}
        apart = self.reported_rules()
        for row in open_rows.values():
            if row["state"] in OPEN and row["rule"] not in apart:
                prev = by_subject.get((row["subject_kind"], row["subject_id"]))
                if prev is None or row["rule"].endswith("-down"):
                    by_subject[(row["subject_kind"], row["subject_id"])] = row
        children: dict[int, list[dict[str, Any]]] = {}
        open_ids = {row["id"] for row in open_rows.values() if row["state"] in OPEN}
        for row in open_rows.values():
            if row["state"] not in OPEN:
                continue
            root = roots.get((row["subject_kind"], row["subject_id"])) if row["rule"] not in apart else None
            root_row = by_subject.get(root) if root else None
            held = (row["rule"], row["subject_kind"], row["subject_id"]) not in seen  # open only as flapping
            if root_row is not None:
                row["root_id"] = root_row["id"]
            elif not (held and row["root_id"] in open_ids):
                row["root_id"] = None
            if row["root_id"] is not None:
                stats.suppressed += 1
                children.setdefault(row["root_id"], []).append(
                    {
                        "kind": row["subject_kind"],
                        "id": row["subject_id"],
                        "name": row["subject_name"],
                        "site": row["site"],
                        "state": "suppressed",
                        "rule": row["rule"],
                        "alert_id": row["id"],
                    }
                )
        topo = self.topology()
        active = {(c.kind, c.subject) for c in conds}
        for row in open_rows.values():
            if row["state"] not in OPEN:
                continue
            kids = children.get(row["id"], [])
            subj = (row["subject_kind"], row["subject_id"])
            if (
                topo is not None
                and row["root_id"] is None
                and subj[0] in ("link", "device")
                and subj in active
            ):
                kids = self._behind(db, topo, *subj) + kids
            row["children_count"] = len(kids)
            row["children"] = json.dumps(kids[:CHILDREN_MAX], ensure_ascii=False) if kids else None

        for row in open_rows.values():
            rule = self.rules.get(row["rule"])
            subj = (row["subject_kind"], row["subject_id"])
            if row["state"] not in OPEN:
                self._save(db, row)
                if row["notified"]:
                    groups = list(rule.notify) if rule else []
                    for step in rule.escalate[: row["escalation_step"]] if rule else ():
                        groups += [
                            g for g in step.notify if g not in groups
                        ]  # whoever was told hears it is over
                    self._queue(db, row, "resolved", groups, now, stats)
                continue
            fl = bool(rule and rule.flaps and flap.is_flapping(counts, *subj))
            if fl and not row["flapping"]:
                self._history(db, row["id"], now, "flapping", f"{counts.get(subj)} changes")
                if row["notified"]:
                    self._queue(db, row, "flapping", rule.notify, now, stats)
            row["flapping"] = int(fl)
            pages = row["state"] == "firing" and not row["muted"] and row["root_id"] is None
            if pages and not row["notified"] and rule is not None:
                self._queue(db, row, "flapping" if row["flapping"] else "firing", rule.notify, now, stats)
                row["notified"] = 1
            if pages and row["notified"] and rule is not None and row["ack_ts"] is None:
                for i, step in enumerate(rule.escalate):
                    if row["escalation_step"] <= i and now - (row["fired_ts"] or now) >= step.after_s:
                        row["escalation_step"] = i + 1
                        self._history(
                            db, row["id"], now, "escalated", f"step {i + 1}: {', '.join(step.notify)}"
                        )
                        self._queue(db, row, "escalation", step.notify, now, stats)
            self._save(db, row)

    def _behind(self, db, topo: RootCause, kind: str, subject: str) -> list[dict[str, Any]]:
        names = topo.behind(kind, subject)
        if not names:
            return []
        observed = {row.subject: row.state for row in state.current_rows(db, kinds=("device",))}
        inv = topo.inventory
        return [
            {
                "kind": "device",
                "id": n,
                "name": n,
                "site": inv.devices[n].site,
                "state": "unreachable (parent)",
                "observed": observed.get(n, "unknown"),
            }
            for n in sorted(names, key=lambda n: (topo.depth.get(n, 0), n))
        ]

    def _summary(self, c: Condition) -> str:
        name = self.subject_name(c.kind, c.subject)
        tpl = c.rule.summary or "{name} {rule}"
        value = c.value if c.value is None or c.value != int(c.value) else int(c.value)
        return tpl.format_map(
            _Safe(
                name=c.subject,
                full_name=name,
                reason=c.reason or "",
                value=value,
                rule=c.rule.name,
                site=self.site_name(c.site),
            )
        )

    def _create(self, db, c: Condition, now: float) -> dict[str, Any]:
        started = min(c.since, now) if c.since else now
        row = {
            "rule": c.rule.name,
            "severity": c.rule.severity,
            "subject_kind": c.kind,
            "subject_id": c.subject,
            "subject_name": self.subject_name(c.kind, c.subject),
            "site": c.site,
            "state": "pending",
            "started_ts": started,
            "fired_ts": None,
            "resolved_ts": None,
            "last_seen_ts": now,
            "summary": None,
            "reason": c.reason,
            "value": c.value,
            "flapping": 0,
            "notified": 0,
            "ack_by": None,
            "ack_ts": None,
            "ack_note": None,
            "assignee": None,
            "escalation_step": 0,
            "muted": None,
            "root_id": None,
            "children": None,
            "children_count": 0,
        }
        cur = db.execute(
            f"INSERT INTO alert_alerts ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) RETURNING id",
            tuple(row.values()),
        )
        row["id"] = cur.fetchone()[0]
        self._history(db, row["id"], now, "created", c.reason)
        return row

    def _reopen(self, db, c: Condition, now: float, counts) -> dict[str, Any] | None:
        """A flapping subject's condition is back: reopen its recent alert instead of a new one."""
        if not c.rule.flaps or not flap.is_flapping(counts, c.kind, c.subject):
            return None
        row = next(db.query(
            "SELECT * FROM alert_alerts WHERE rule = ? AND subject_kind = ? AND subject_id = ?"
            " AND state = 'resolved'"
            " AND resolved_ts > ? ORDER BY resolved_ts DESC LIMIT 1",
            (c.rule.name, c.kind, c.subject, now - self.rules.flap_window_s),
        ), None)
        if row is None:
            return None
        row.update(state="firing" if row["fired_ts"] else "pending", resolved_ts=None)
        self._history(db, row["id"], now, "reopened", "flapping")
        return row

    def _save(self, db, row: dict[str, Any]) -> None:
        keys = [k for k in row if k != "id"]
        db.execute(
            f"UPDATE alert_alerts SET {', '.join(f'{k} = ?' for k in keys)} WHERE id = ?",
            (*[row[k] for k in keys], row["id"]),
        )

    def _history(
        self, db, alert_id: int, now: float, event: str, detail: str | None, actor: str | None = None
    ) -> None:
        db.execute(
            "INSERT INTO alert_history (alert_id, ts, event, detail, actor) VALUES (?, ?, ?, ?, ?)",
            (alert_id, now, event, detail, actor),
        )

    def payload(self, row: dict[str, Any], event: str) -> dict[str, Any]:
        keys = (
            "rule",
            "severity",
            "subject_kind",
            "subject_id",
            "subject_name",
            "site",
            "state",
            "started_ts",
            "fired_ts",
            "resolved_ts",
            "summary",
            "children_count",
            "flapping",
        )
        out = {k: row.get(k) for k in keys}
        out.update(alert_id=row["id"], event=event, site_name=self.site_name(row.get("site")))
        return out

    def _queue(
        self, db, row: dict[str, Any], event: str, groups: Iterable[str], now: float, stats: EvalStats
    ) -> None:
        targets = self.channels.recipients(list(groups)) if self.channels else []
        if not targets:
            self._history(
                db,
                row["id"],
                now,
                "not-notified",
                f"{event}: no recipients configured for {', '.join(groups) or '-'}",
            )
            return
        body = json.dumps(self.payload(row, event), ensure_ascii=False)
        db.conn.executemany(
            "INSERT INTO alert_notifications (alert_id, channel, recipient, event, status, created_ts,"
            " next_ts,"
            " payload) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
            [(row["id"], ch, to, event, now, now, body) for ch, to in targets],
        )
        stats.queued += len(targets)
