"""What is bad right now, per rule: read-only queries over other modules' tables.

Each function returns :class:`Condition` objects keyed by (rule, subject kind, subject
id).  Nothing here writes; the engine decides what a condition means for an alert.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from ipam import findings as ipam_findings
from nms import clockskew, sdh, state
from nms.alerts.rules import Rule, RuleSet
from nms.configs import store as configs_store
from nms.db import Database
from nms.events import store as events_store
from nms.portals import store as portals_store
from nms.store import SqliteTimeSeriesStore
from probes.common import topology
from probes.common.inventory_model import Inventory
from probes.common.subject import Subject, interface

log = logging.getLogger(__name__)


@dataclass
class Condition:
    rule: Rule
    kind: str
    subject: str
    site: str | None
    since: float | None
    value: float | None = None
    reason: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule.name, self.kind, self.subject)


def _role_ok(rule: Rule, inv: Inventory | None, device: str) -> bool:
    if not rule.roles:
        return True
    dev = inv.devices.get(device) if inv else None
    return dev is not None and dev.role in rule.roles


def _link_kind_of(inv: Inventory | None, s: Subject) -> str | None:
    if inv is None:
        return None
    if s.kind == "link":
        link = inv.links.get(s.name)
        return link.kind if link else None
    if s.kind == "interface":
        for link in inv.links.values():
            for e in (link.a, link.b):
                if e.device == s.name and e.interface == s.part:
                    return link.kind
    return None


def _roles_ok(rule: Rule, inv: Inventory | None, s: Subject) -> bool:
    """A rule with ``roles`` matches a subject standing on a device of one of them (a link
    or tunnel: either end; a site: any of its devices)."""
    if not rule.roles:
        return True
    return inv is not None and any(_role_ok(rule, inv, d) for d in topology.stands_on(s, inv))


def state_conditions(db: Database, rule: Rule, inv: Inventory | None) -> list[Condition]:
    rows = state.current_rows(db, kinds=(rule.subject,), states=rule.states)
    pattern = re.compile(rule.reason_match) if rule.reason_match else None
    out = []
    for _kind, subject, _st, since, reason, site in rows:
        if pattern is not None and not pattern.search(reason or ""):
            continue
        s = Subject.parse(rule.subject or "", subject)
        if not _roles_ok(rule, inv, s):
            continue
        if rule.link_kinds and _link_kind_of(inv, s) not in rule.link_kinds:
            continue
        out.append(Condition(rule, rule.subject or "", subject, site, since, reason=reason))
    return out


def sdh_conditions(
    db: Database, rule: Rule, inv: Inventory | None, now: float
) -> list[Condition]:
    """The latest complete 15-minute bucket of each SDH interface over the ES/SES threshold."""
    rows = sdh.latest_line_buckets(db, now - 1800)
    out = []
    for dev, itf, end, es, ses in rows:
        over_es = rule.es_above is not None and es is not None and es > rule.es_above
        over_ses = rule.ses_above is not None and ses is not None and ses > rule.ses_above
        if not (over_es or over_ses) or not _role_ok(rule, inv, dev):
            continue
        site = inv.devices[dev].site if inv and dev in inv.devices else None
        out.append(
            Condition(
                rule,
                "interface",
                interface(dev, itf),
                site,
                float(end) - 900,
                value=float(ses if over_ses else es),
                reason=f"ES {es} SES {ses} in the 15 min to {int(end)}",
            )
        )
    return out


def _agent_site(inv: Inventory | None, agent: str) -> tuple[bool, str | None]:
    """(is the agent one of the inventory's, or there is no inventory to ask; its first site)."""
    if inv is not None and inv.agents and agent not in inv.agents:
        return False, None
    sites = inv.agents[agent].sites if inv and agent in inv.agents else ()
    return True, sites[0] if sites else None


def agent_conditions(
    db: Database, rule: Rule, inv: Inventory | None, now: float
) -> list[Condition]:
    """Agents heard from before but not for ``silent_s`` (never-heard agents are not paged)."""
    out = []
    for agent, last in state.last_batch_by_agent(db).items():
        known, site = _agent_site(inv, agent)
        if known and last is not None and now - last > rule.silent_s:
            out.append(
                Condition(
                    rule,
                    "agent",
                    agent,
                    site,
                    last + rule.silent_s,
                    value=round(now - last),
                    reason=f"no batch for {round(now - last)} s",
                )
            )
    return out


def epoch_conditions(
    db: Database, rule: Rule, inv: Inventory | None, now: float
) -> list[Condition]:
    """Agents that started a new spool (epoch) in the last ``resolve_after_s``: data may be lost.

    The epoch changes only when the agent's spool file was lost, wiped or replaced, and
    whatever that spool still held never reaches the centre (``nms.state.note_epoch``).
    """
    out = []
    for agent, epoch, first_seen, first_seq, previous, last_seq in state.new_epochs(
        db, now - rule.resolve_after_s
    ):
        known, site = _agent_site(inv, agent)
        if not known:
            continue
        reason = (
            f"agent restarted with a new spool (epoch {epoch}, from seq {first_seq}; was {previous}"
            f" up to seq {last_seq}): batches the old spool still held are lost"
        )
        out.append(Condition(rule, "agent", agent, site, first_seen, reason=reason))
    return out


def clock_skew_conditions(db: Database, rule: Rule, inv: Inventory | None) -> list[Condition]:
    """Agents whose batches ingest refused for samples dated ahead, not yet in time again."""
    out = []
    for agent, _seq, first, _last, sample_ts, ahead, max_skew, refusals in clockskew.open_refusals(db):
        known, site = _agent_site(inv, agent)
        if not known:
            continue
        out.append(
            Condition(
                rule,
                "agent",
                agent,
                site,
                first,
                value=round(ahead),
                reason=f"{refusals} batch(es) refused: sample ts {sample_ts:.0f} is {ahead:.0f} s ahead"
                f" of the centre's clock (at most {max_skew:g} s allowed)",
            )
        )
    return out


def config_conditions(
    db: Database, rule: Rule, inv: Inventory | None, now: float
) -> list[Condition]:
    out = []
    for run in configs_store.event_runs(db, now - rule.resolve_after_s, rule.events):
        dev, first, last, n, kind = run.device, run.first, run.last, run.count, run.kind
        if not _role_ok(rule, inv, dev):
            continue
        site = inv.devices[dev].site if inv and dev in inv.devices else None
        out.append(
            Condition(rule, "device", dev, site, first, value=n, reason=f"{kind} x{n}, last {int(last)}")
        )
    return out


def event_conditions(
    db: Database, rule: Rule, inv: Inventory | None, now: float
) -> list[Condition]:
    """Devices that reported ``event_kinds`` at least ``at_least`` times in the last ``window_s``
    (traps and syslog in the event log); the alert resolves when the window no longer holds them."""
    out = []
    for row in events_store.per_device(db, rule.event_kinds, now - rule.window_s):
        dev = row["device"]
        if row["n"] < rule.at_least or not _role_ok(rule, inv, dev):
            continue
        site = inv.devices[dev].site if inv and dev in inv.devices else row["site"]
        reason = f"{row['n']} in {int(rule.window_s)} s, last: {row['text'] or ''}"[:300]
        out.append(Condition(rule, "device", dev, site, row["first"], value=row["n"], reason=reason))
    return out


def finding_conditions(db: Database, rule: Rule, inv: Inventory | None) -> list[Condition]:
    """Open reconciliation findings of the rule's kinds (ipam.findings; dismissed ones excluded):
    a cabling finding is about the port that sees the wrong neighbour, the others about the
    device where the address was seen."""
    if inv is None:
        return []
    out = []
    for f in ipam_findings.findings(db, inv, None, kind=None)["findings"]:
        if f["kind"] not in rule.findings or not f["places"]:
            continue
        place = f["places"][0]
        dev = place["device"]
        if not _role_ok(rule, inv, dev):
            continue
        if f["kind"] == "cabling" and place.get("ifname"):
            kind, subject = "interface", interface(dev, place["ifname"])
        else:
            kind, subject = "device", dev
        out.append(Condition(rule, kind, subject, f["site"], f["first_seen"], reason=f["detail"]))
    return out


def portal_conditions(db: Database, rule: Rule, inv: Inventory | None) -> list[Condition]:
    """One condition per portal with a current finding of the rule's kinds (one alert per fault)."""
    out = []
    for row in portals_store.current(db):
        hits = [f for f in row["findings"] if f["kind"] in rule.findings]
        if inv is not None and row["portal"] not in inv.portals or not hits:
            continue
        since = min(f.get("since") or row["ts"] for f in hits)
        reason = "; ".join(f"{f['kind']}: {f['detail']}" for f in hits)[:500]
        out.append(Condition(rule, "portal", row["portal"], row["site"], since, reason=reason))
    return out


class MetricReader:
    """Recent samples from the time-series store, read once per source per evaluation."""

    def __init__(self, metrics: Any) -> None:
        """``metrics``: a store (:func:`nms.timeseries.open_timeseries`), a metrics.db connection or None."""
        if getattr(metrics, "engine", None) in ("sqlite", "postgresql"):  # a Database, not a store
            metrics = SqliteTimeSeriesStore(metrics)
        self.store = metrics
        self.cache: dict[tuple[str, str, int], Any] = {}

    def series(self, device: str, interface: str, metrics: tuple[str, ...], t0: int, t1: int):
        key = (device, interface, t0)
        if key not in self.cache:
            self.cache[key] = (
                self.store.read_range(device, interface, list(metrics), t0, t1, level="raw")
                if self.store is not None
                else None
            )
        return self.cache[key]


DEVICE_METRICS = ("cpu_pct", "mem_pct", "temperature_c", "sessions")
IF_METRICS = ("in_bps", "out_bps", "in_errors", "out_errors", "in_ucast_pkts", "out_ucast_pkts")


def _all_over(values: list[Any], above: float) -> bool:
    vals = [v for v in values if v is not None]
    return bool(vals) and all(v > above for v in vals)


def metric_conditions(reader: MetricReader, rule: Rule, inv: Inventory | None, now: float) -> list[Condition]:
    """Over ``above`` for every sample of the last ``for_s`` (at least two samples)."""
    if inv is None or reader.store is None:
        return []
    t1 = int(now)
    t0 = int(now - max(rule.for_s, 60))
    out = []
    if rule.metric in DEVICE_METRICS:
        for dev in inv.devices.values():
            if rule.roles and dev.role not in rule.roles:
                continue
            s = reader.series(dev.name, "", DEVICE_METRICS, t0, t1)
            vals = s.columns.get(rule.metric, []) if s is not None else []
            if len([v for v in vals if v is not None]) >= 2 and _all_over(vals, rule.above or 0):
                out.append(
                    Condition(
                        rule,
                        "device",
                        dev.name,
                        dev.site,
                        float(s.ts[0]),
                        value=round(vals[-1] if vals[-1] is not None else 0, 1),
                    )
                )
        return out
    for link in inv.links.values():
        if rule.link_kinds and link.kind not in rule.link_kinds:
            continue
        for end in (link.a, link.b):
            dev = inv.devices.get(end.device)
            if dev is None or (rule.roles and dev.role not in rule.roles):
                continue
            s = reader.series(end.device, end.interface, IF_METRICS, t0, t1)
            if s is None or len(s.ts) < 2:
                continue
            value = _interface_value(rule.metric or "", s.columns, link.capacity_bps)
            if value is not None and value > (rule.above or 0):
                out.append(
                    Condition(
                        rule,
                        "interface",
                        interface(end.device, end.interface),
                        dev.site,
                        float(s.ts[0]),
                        value=round(value, 2),
                        reason=f"link {link.id}",
                    )
                )
    return out


def _interface_value(metric: str, cols: dict[str, list[Any]], capacity: int) -> float | None:
    if metric == "utilisation_pct":
        per = [
            max(a or 0, b or 0)
            for a, b in zip(cols.get("in_bps", []), cols.get("out_bps", []), strict=False)
            if a is not None or b is not None
        ]
        if len(per) < 2 or capacity <= 0:
            return None
        low = min(per) * 100.0 / capacity  # over the threshold for the whole window
        return low
    if metric == "error_pct":

        def delta(name: str) -> float | None:
            vals = [v for v in cols.get(name, []) if v is not None]
            return vals[-1] - vals[0] if len(vals) >= 2 and vals[-1] >= vals[0] else None

        errs = [delta("in_errors"), delta("out_errors")]
        pkts = [delta("in_ucast_pkts"), delta("out_ucast_pkts")]
        if any(x is None for x in errs + pkts):
            return None
        total = sum(pkts) + sum(errs)
        return 100.0 * sum(errs) / total if total > 0 else None
    return None


def gather(
    db: Database,
    rules: RuleSet,
    inv: Inventory | None,
    now: float,
    metrics_db: Database | None = None,
    with_metrics: bool = True,
) -> tuple[list[Condition], set[str]]:
    """(conditions, names of rules evaluated this time); a rule that fails is logged and skipped
    (its open alerts are left as they are rather than resolved on missing data)."""
    out: list[Condition] = []
    done: set[str] = set()
    reader = MetricReader(metrics_db)
    for rule in rules.rules:
        if not rule.enabled:
            continue
        if rule.kind == "metric" and not with_metrics:
            continue
        try:
            if rule.kind == "state":
                out += state_conditions(db, rule, inv)
            elif rule.kind == "sdh_errors":
                out += sdh_conditions(db, rule, inv, now)
            elif rule.kind == "agent_silent":
                out += agent_conditions(db, rule, inv, now)
            elif rule.kind == "agent_epoch":
                out += epoch_conditions(db, rule, inv, now)
            elif rule.kind == "agent_clock_skew":
                out += clock_skew_conditions(db, rule, inv)
            elif rule.kind == "config_event":
                out += config_conditions(db, rule, inv, now)
            elif rule.kind == "device_event":
                out += event_conditions(db, rule, inv, now)
            elif rule.kind == "address_finding":
                out += finding_conditions(db, rule, inv)
            elif rule.kind == "metric":
                out += metric_conditions(reader, rule, inv, now)
            elif rule.kind == "portal":
                out += portal_conditions(db, rule, inv)
        except Exception:  # one broken rule must not stop the others
            log.exception("alert rule %s failed", rule.name)
            continue
        done.add(rule.name)
    return out, done
