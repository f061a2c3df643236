"""What the operator console and the county page show, read from inventory, state and store.

Functions here take the inventory and the principal's site scope and return plain
data for the templates; the views only route and check permissions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask

from dashboards.walldata import latest_rates
from nms import sdh, sitenet, state
from nms.auth.policy import Principal, authorize, current_principal, declaration_of, require_site
from nms.availability import LOCAL_TZ
from nms.db import request_db
from nms.timeseries import request_timeseries
from probes.common.inventory_model import Device, Inventory, Link
from probes.common.subject import Subject, interface

STATES = state.STATES
RANGES = {"1h": 3600, "1d": 86400, "30d": 30 * 86400}
RANGE_LABELS = {
    "1h": "最近1小时 Last hour",
    "1d": "最近1天 Last day",
    "30d": "最近30天 Last 30 days",
    "custom": "自定义 Custom",
}
IF_METRICS = ("in_bps", "out_bps", "in_errors", "out_errors")
DEVICE_METRICS = ("cpu_pct", "mem_pct", "temperature_c", "rtt_ms", "loss_pct")
MAX_ROWS = 500

# (prefix of a route of another module, label): linked when that module has the page
OTHER_PAGES = (
    ("/console/alerts", "告警处理 Alerts (ack, assign, silence)"),
    ("/alerts", "维护窗口 Maintenance windows"),
    ("/availability", "可用率报表 Availability reports"),
    ("/reports", "报表 Reports"),
    ("/configs/", "配置备份 Config backups"),
    ("/ipam", "地址管理 IP addresses"),
)


def other_pages(app: Flask) -> list[dict[str, str]]:
    """Pages of other modules that exist in this app and the principal may open (linked, not copied)."""
    principal = current_principal()
    found: dict[str, dict[str, str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.arguments or "GET" not in (rule.methods or ()) or rule.rule.startswith("/api/"):
            continue
        declared = declaration_of(app.view_functions.get(rule.endpoint))
        if declared is None or not authorize(principal, declared[0]):
            continue
        for prefix, label in OTHER_PAGES:
            if rule.rule.startswith(prefix) and prefix not in found:
                found[prefix] = {"url": rule.rule, "label": label}
            elif rule.rule.startswith(prefix) and len(rule.rule) < len(found[prefix]["url"]):
                found[prefix]["url"] = rule.rule
    return [found[p] for p, _ in OTHER_PAGES if p in found]


# ---- filters and ranges ---------------------------------------------------------------------------


def parse_filters(args: Mapping[str, str], inv: Inventory) -> tuple[dict[str, str], dict[str, str]]:
    """Search form values and, per field, what is wrong with them."""
    form = {k: (args.get(k) or "").strip() for k in ("q", "site", "role", "state")}
    errors: dict[str, str] = {}
    if len(form["q"]) > 100:
        errors["q"] = "搜索词过长 search text longer than 100 characters"
    if form["site"] and form["site"] not in inv.sites:
        errors["site"] = f"没有此站点 no site {form['site']!r}"
    roles = {d.role for d in inv.devices.values()}
    if form["role"] and form["role"] not in roles:
        errors["role"] = f"没有此角色 unknown role {form['role']!r}"
    if form["state"] and form["state"] not in STATES:
        errors["state"] = f"状态应为 state must be one of {', '.join(STATES)}"
    for k in errors:
        form[k] = ""
    return form, errors


def _parse_local(text: str) -> float:
    dt = datetime.fromisoformat(text.strip().replace("T", " "))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=LOCAL_TZ)
    return dt.timestamp()


def parse_range(args: Mapping[str, str], now: float | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """``range`` = 1h | 1d | 30d | custom (with ``from`` and ``to``, local time)."""
    now = time.time() if now is None else now
    rng = args.get("range") or "1h"
    form: dict[str, Any] = {"range": rng, "from": args.get("from", ""), "to": args.get("to", "")}
    errors: dict[str, str] = {}
    if rng in RANGES:
        form["t0"], form["t1"] = now - RANGES[rng], now
    elif rng == "custom":
        t0 = t1 = None
        try:
            t0 = _parse_local(form["from"])
        except ValueError:
            errors["from"] = "格式 format: YYYY-MM-DD HH:MM"
        try:
            t1 = _parse_local(form["to"]) if form["to"] else now
        except ValueError:
            errors["to"] = "格式 format: YYYY-MM-DD HH:MM"
        if t0 is not None and t1 is not None and t1 <= t0:
            errors["to"] = "结束须晚于开始 'to' must be after 'from'"
        if t0 is not None and t1 is not None and t1 - t0 > 400 * 86400:
            errors["from"] = "时段不超过400天 at most 400 days"
        form["t0"], form["t1"] = t0, t1
    else:
        errors["range"] = "应为 must be 1h, 1d, 30d or custom"
    if errors:
        form["range"], form["t0"], form["t1"] = "1h", now - 3600, now
    # whole seconds, widened outwards: truncating "now" would drop a sample taken this very second
    form["t0"], form["t1"] = math.floor(form["t0"]), math.ceil(form["t1"])
    return form, errors


def filter_options(inv: Inventory, sites: set[str] | None) -> dict[str, list]:
    visible = [s for s in inv.sites.values() if sites is None or s.id in sites]
    return {
        "sites": sorted(
            ((s.id, s.name_zh, s.kind) for s in visible), key=lambda x: (x[2] != "province", x[0])
        ),
        "roles": sorted({d.role for d in inv.devices.values()}),
        "states": list(STATES),
    }


# ---- lists ------------------------------------------------------------------------------------------


def device_rows(inv: Inventory, sites: set[str] | None, form: dict[str, str]) -> dict[str, Any]:
    cur = state.current(request_db(), kinds=("device",))["device"]
    within = None
    if form["site"]:
        within = inv.subtree(form["site"])
    q = form["q"].lower()
    rows = []
    for d in sorted(inv.devices.values(), key=lambda x: (x.site, x.name)):
        if sites is not None and d.site not in sites:
            continue
        if within is not None and d.site not in within:
            continue
        if form["role"] and d.role != form["role"]:
            continue
        st = cur.get(d.name, {})
        if form["state"] and st.get("state", "unknown") != form["state"]:
            continue
        site = inv.sites[d.site]
        hay = f"{d.name} {d.address} {d.vendor} {d.model} {site.name_zh} {site.name_pinyin} {site.id}".lower()
        if q and q not in hay:
            continue
        rows.append(
            {
                "name": d.name,
                "site": site,
                "role": d.role,
                "vendor": d.vendor,
                "model": d.model,
                "address": d.address,
                "network": d.network,
                "state": st.get("state", "unknown"),
                "since": st.get("since"),
                "reason": st.get("reason"),
            }
        )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    return {"items": rows[:MAX_ROWS], "total": len(rows), "counts": counts}


def interfaces_of(inv: Inventory, dev: Device) -> list[str]:
    names = list(dev.interfaces)
    for link in inv.links.values():
        for end in (link.a, link.b):
            if end.device == dev.name and end.interface not in names:
                names.append(end.interface)
    return names


def _links_of(inv: Inventory, device: str) -> dict[str, Link]:
    out = {}
    for link in inv.links.values():
        for end in (link.a, link.b):
            if end.device == device:
                out[end.interface] = link
    return out


def _latest(keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    return latest_rates(request_timeseries(), keys, 0)


def device_info(inv: Inventory, dev: Device) -> dict[str, Any]:
    db = request_db()
    cur = state.current(db, kinds=("device", "interface", "link", "tunnel"))
    names = interfaces_of(inv, dev)
    links = _links_of(inv, dev.name)
    latest = _latest([(dev.name, "")] + [(dev.name, n) for n in names])
    ifaces = []
    for n in names:
        st = cur["interface"].get(interface(dev.name, n), {})
        rate = latest.get((dev.name, n), {})
        link = links.get(n)
        ifaces.append(
            {
                "name": n,
                "state": st.get("state", "unknown"),
                "reason": st.get("reason"),
                "since": st.get("since"),
                "in_bps": rate.get("in_bps"),
                "out_bps": rate.get("out_bps"),
                "link": link.id if link else None,
                "link_kind": link.kind if link else None,
            }
        )
    tunnels = [
        {"name": t.part, **v}
        for t, v in ((Subject.parse("tunnel", k), v) for k, v in cur["tunnel"].items())
        if t.name == dev.name
    ]
    return {
        "state": cur["device"].get(dev.name, {"state": "unknown", "since": None, "reason": None}),
        "site": inv.sites[dev.site],
        "health": latest.get((dev.name, ""), {}),
        "interfaces": ifaces,
        "tunnels": tunnels,
        "events": state.events(db, kind="device", subject=dev.name, limit=20),
    }


def require_link(inv: Inventory, link: Link) -> None:
    """A link is visible to whoever may see either end's site."""
    sites = [inv.devices[e.device].site for e in (link.a, link.b) if e.device in inv.devices]

    if not any(authorize(current_principal(), "status.read", s) for s in sites):
        require_site(sites[-1] if sites else "?")


def link_info(inv: Inventory, link: Link) -> dict[str, Any]:
    db = request_db()
    cur = state.current(db, kinds=("link", "interface"))
    ends = []
    for end in (link.a, link.b):
        dev = inv.devices.get(end.device)
        st = cur["interface"].get(interface(end.device, end.interface), {})
        ends.append(
            {
                "device": end.device,
                "interface": end.interface,
                "site": inv.sites[dev.site] if dev else None,
                "state": st.get("state", "unknown"),
                "reason": st.get("reason"),
            }
        )
    latest = _latest([(link.a.device, link.a.interface), (link.b.device, link.b.interface)])
    a = latest.get((link.a.device, link.a.interface), {})
    sdh_rows: list[dict[str, Any]] = []
    if link.kind == "sdh-stm1":
        since = int(time.time()) - 86400
        for end in (link.a, link.b):
            for row in sdh.recent_line_buckets(db, end.device, end.interface, since):
                sdh_rows.append({"device": end.device, **row})
        sdh_rows.sort(key=lambda r: (-r["interval_end"], r["device"]))
    load = None
    peak = max([v for v in (a.get("in_bps"), a.get("out_bps")) if v is not None], default=None)
    if peak is not None and link.capacity_bps:
        load = round(100.0 * peak / link.capacity_bps, 1)
    return {
        "state": cur["link"].get(link.id, {"state": "unknown", "since": None, "reason": None}),
        "ends": ends,
        "rate": a,
        "load_pct": load,
        "sdh": sdh_rows,
        "sdh_totals": {k: sum((r[k] or 0) for r in sdh_rows) for k in ("es", "ses", "uas")},
        "events": state.events(db, kind="link", subject=link.id, limit=50),
    }


def read_series(device: str, interface: str, t0: int, t1: int) -> dict[str, Any]:
    store = request_timeseries()
    metrics = IF_METRICS if interface else DEVICE_METRICS
    series = store.read_range(device, interface, metrics, t0, t1)
    return {"device": device, "interface": interface, "t0": t0, "t1": t1, **series.as_dict()}


# ---- the county administrator's area ------------------------------------------------------------------


def area_info(inv: Inventory, principal: Principal | None, sites: set[str] | None) -> dict[str, Any]:
    """The principal's own site and what lies below it, with device states."""
    home = principal.site if principal is not None and principal.site in inv.sites else None
    if home is None:
        home = next((s.id for s in inv.sites.values() if s.parent is None), None)
    cur = state.current(request_db(), kinds=("device", "site", "site_network"))
    nets = sitenet.per_site(cur["site_network"])
    visible = [s for s in inv.sites.values() if sites is None or s.id in sites]
    if sites is None:  # province scope: the province and its cities, not 140 rows
        visible = [s for s in visible if s.kind in ("province", "city")]
    rows = []
    for s in sorted(visible, key=lambda x: (x.id != home, x.id)):
        devs = [d for d in inv.devices.values() if d.site == s.id]
        states = [cur["device"].get(d.name, {}).get("state", "unknown") for d in devs]
        rows.append(
            {
                "site": s,
                "state": cur["site"].get(s.id, {}).get("state", "unknown"),
                "reason": cur["site"].get(s.id, {}).get("reason"),
                "networks": [(sitenet.label(n), row) for n, row in sitenet.in_order(nets.get(s.id, {}))],
                "devices": len(devs),
                "up": states.count("up"),
                "bad": [d.name for d, st in zip(devs, states, strict=True) if st in ("down", "unreachable")],
            }
        )
    return {"home": inv.sites.get(home) if home else None, "rows": rows}
