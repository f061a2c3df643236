/* NOC wall: draws /api/v1/wall and follows /api/v1/wall/stream (SSE); no page reloads.
 * The server decides everything shown; this file only lays it out, keeps the clock and
 * durations ticking, warns when data are stale, and rotates the pages. */
(function () {
  "use strict";
  const body = document.body;
  const COLORS = {
    up: "#22c55e", hi: "#f59e0b", top: "#fb7185", degraded: "#facc15", down: "#ff2d55",
    unreachable: "#b06cff", unknown: "#64748b", accent: "#38bdf8", "snmp-unreachable": "#facc15",
    suspect: "#38bdf8",
  };
  const STATE_ZH = { up: "正常", down: "中断", degraded: "降级", unreachable: "不可达", unknown: "无数据",
    "snmp-unreachable": "SNMP不可达(可ping通)",
    firing: "告警", pending: "待定" };
  const NET_ZH = { internal: "专网", external: "外网" };
  const SEV_ZH = { critical: "严重", major: "重要", minor: "次要", warning: "警告", info: "提示" };
  const wall = {
    data: null, mode: null, renders: 0, skew: 0, lastMessage: 0, source: "none",
    chart: null, sdhChart: null,
  };
  window.nmsWall = wall;

  const $ = (id) => document.getElementById(id);
  const nowServer = () => Date.now() / 1000 + wall.skew;
  const fontPx = () => Math.max(12, Math.min(44, window.innerWidth * 0.0105));

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => (
      { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function duration(sec) {
    if (sec == null || !isFinite(sec)) return "—";
    sec = Math.max(0, Math.floor(sec));
    const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600);
    const m = Math.floor((sec % 3600) / 60), s = sec % 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
    if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
    return `${s}s`;
  }
  function pct(v, digits) {
    return v == null ? "—" : `${v.toFixed(digits == null ? 2 : digits)}%`;
  }
  function mbps(v) { return v == null ? "—" : `${(v / 1e6).toFixed(1)}`; }

  /* ---------- colours ---------- */
  function edgeColor(e) {
    if (e.state !== "up") return COLORS[e.state] || COLORS.unknown;
    if (e.load_pct != null && e.load_pct >= 90) return COLORS.top;
    if (e.load_pct != null && e.load_pct >= 70) return COLORS.hi;
    return COLORS.up;
  }
  function nodeColor(n) { return COLORS[n.state] || COLORS.unknown; }
  /* each network of a site with its state ("专网 中断 · 外网 正常"); the node's colour is the worst */
  function networkText(n) {
    const nets = n.networks || {};
    const order = Object.keys(nets).sort((a, b) => (a === "internal" ? -1 : b === "internal" ? 1 : a < b ? -1 : 1));
    return order.map((k) => `${NET_ZH[k] || k} ${STATE_ZH[nets[k].state] || nets[k].state}`).join(" · ");
  }

  /* ---------- map ---------- */
  function bbox(nodes) {
    const lons = nodes.map((n) => n.lon), lats = nodes.map((n) => n.lat);
    return [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  }

  function mapOption(d) {
    const el = $("map");
    const W = el.clientWidth, H = el.clientHeight, fs = fontPx();
    const unit = Math.max(4, H / 110);
    const bad = (s) => s === "down" || s === "unreachable" || s === "degraded";
    const nodes = d.nodes.map((n) => {
      const size = n.kind === "province" ? unit * 3.2 : n.kind === "city" ? unit * 2.0 : unit * 1.1;
      const showLabel = n.kind !== "county" || bad(n.state);
      const nets = networkText(n);
      const text = (n.kind === "county" ? n.name : `${n.name}\n{en|${n.en}}`)
        + (bad(n.state) && nets ? `\n{net|${nets}}` : "");
      return {
        name: n.id, value: [n.lon, n.lat], zh: n.name, en: n.en, state: n.state,
        networks: n.networks || {}, netText: nets, labelText: text,
        symbolSize: bad(n.state) ? size * 1.5 : size,
        symbol: n.kind === "province" ? "diamond" : "circle",
        itemStyle: {
          color: nodeColor(n), borderColor: n.state === "unreachable" ? "#f3e8ff" : "#0b1220",
          borderWidth: n.state === "unreachable" ? unit * 0.35 : unit * 0.15,
        },
        label: {
          show: showLabel, position: n.kind === "county" ? "bottom" : "right",
          fontSize: n.kind === "county" ? fs * 0.75 : fs * 0.95,
          fontWeight: n.kind === "county" ? 400 : 700,
          color: bad(n.state) ? nodeColor(n) : "#dbe7f5",
          formatter: () => text,
          rich: { en: { fontSize: fs * 0.62, color: "#8ea3bd" }, net: { fontSize: fs * 0.62, color: "#e2e8f0" } },
          textBorderColor: "#070d17", textBorderWidth: 3,
        },
      };
    });
    const links = d.edges.map((e) => {
      const color = e.suspect && e.state === "up" ? COLORS.suspect : edgeColor(e);
      const bigger = e.state === "down" || e.state === "unreachable";
      const width = (e.sdh ? unit * 0.75 : unit * 0.3) * (bigger ? 2.2 : 1);
      return {
        source: e.source, target: e.target, edgeId: e.id, linkIds: e.links.map((l) => l.id),
        state: e.state, load: e.load_pct, sdh: e.sdh,
        lineStyle: {
          color, width, opacity: e.state === "unknown" ? 0.55 : 0.95,
          type: e.state === "down" ? [unit * 1.2, unit * 0.6] : e.state === "unknown" ? "dotted" : "solid",
          shadowBlur: e.sdh || bigger ? unit * 1.2 : 0, shadowColor: bigger ? color : "#38bdf8",
        },
        label: {
          show: e.sdh || bigger, fontSize: fs * 0.7, color: bigger ? color : "#cbd5e1",
          formatter: () => (bigger ? `✖ ${STATE_ZH[e.state]}` : e.load_pct == null ? "" : `${e.load_pct.toFixed(0)}%`),
          textBorderColor: "#070d17", textBorderWidth: 3,
        },
      };
    });
    const graph = {
      id: "net", type: "graph", layout: "none", data: nodes, links,
      edgeSymbol: ["none", "none"], animation: false, z: 3,
      emphasis: { disabled: true },
      tooltip: {
        formatter: (p) => (p.dataType === "node"
          ? `${esc(p.data.zh)} ${esc(STATE_ZH[p.data.state] || p.data.state)}<br>${esc(p.data.netText)}`
          : `${esc((p.data.linkIds || []).join(", "))} ${esc(STATE_ZH[p.data.state] || p.data.state)}`),
      },
    };
    const alarms = {
      id: "alarms", type: "effectScatter", z: 4, animation: true,
      rippleEffect: { brushType: "stroke", scale: 3.5, period: 2.5 },
      data: d.nodes.filter((n) => n.state === "down" || n.state === "unreachable").map((n) => ({
        value: [n.lon, n.lat], itemStyle: { color: nodeColor(n) },
        symbolSize: unit * (n.kind === "county" ? 1.6 : 2.6),
      })),
      silent: true,
    };
    if (wall.mode === "geo") {
      graph.coordinateSystem = "geo";
      alarms.coordinateSystem = "geo";
      return {
        backgroundColor: "transparent",
        geo: {
          map: "nms-province", roam: false, silent: true, layoutCenter: ["50%", "50%"], layoutSize: "96%",
          itemStyle: { areaColor: "#0f2036", borderColor: "#2f5278", borderWidth: 1.2 },
          label: { show: false },
        },
        tooltip: { trigger: "item", confine: true },
        series: [graph, alarms],
      };
    }
    // schematic: the same positions on hidden axes, aspect kept (km per degree of longitude ~ cos(lat))
    const [x0, x1, y0, y1] = bbox(d.nodes.length ? d.nodes : [{ lon: 117, lat: 31 }]);
    const padX = (x1 - x0) * 0.06 + 0.05, padY = (y1 - y0) * 0.06 + 0.05;
    const kx = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
    const dataW = (x1 - x0 + 2 * padX) * kx, dataH = y1 - y0 + 2 * padY;
    const scale = Math.min((W * 0.94) / dataW, (H * 0.94) / dataH);
    const gw = dataW * scale, gh = dataH * scale;
    graph.coordinateSystem = "cartesian2d";
    alarms.coordinateSystem = "cartesian2d";
    return {
      backgroundColor: "transparent",
      title: { text: "示意图 Schematic (no outline)", right: 10, top: 6,
        textStyle: { color: "#4b6485", fontSize: fs * 0.7, fontWeight: 400 } },
      grid: { left: (W - gw) / 2, top: (H - gh) / 2, width: gw, height: gh },
      xAxis: { type: "value", min: x0 - padX, max: x1 + padX, show: false },
      yAxis: { type: "value", min: y0 - padY, max: y1 + padY, show: false },
      tooltip: { trigger: "item", confine: true },
      series: [graph, alarms],
    };
  }

  function drawMap() {
    if (!wall.data || !wall.chart || !$("map").clientHeight) return; // hidden page: drawn when shown
    wall.chart.setOption(mapOption(wall.data), true);
  }

  /* ---------- header, alerts, stats ---------- */
  function drawCounts(d) {
    const dv = d.summary.devices || {}, lk = d.summary.links || {};
    const total = (o) => Object.values(o).reduce((a, b) => a + b, 0);
    const cell = (n, zh, en, cls) => `<div class="c ${n ? cls : ""}"><b>${n}</b><small>${zh} ${en}</small></div>`;
    $("counts").innerHTML =
      cell(total(dv), "设备", "devices", "") +
      cell(dv.down || 0, "设备中断", "down", "bad") +
      cell(dv.unreachable || 0, "不可达", "unreachable", "warn") +
      cell(lk.down || 0, "链路中断", "links down", "bad") +
      cell(d.problems.total, "告警", "alerts", "bad");
  }

  function describe(p) {
    const what = p.kind === "link" ? `链路 ${p.subject}` : p.kind === "device" ? `设备 ${p.subject}` : p.subject;
    return `${what}${p.site_name ? " · " + p.site_name : ""}`;
  }

  function drawAlerts(d) {
    const list = $("alerts");
    const items = d.problems.items;
    $("alert-count").textContent = d.problems.total;
    $("alert-count").className = "badge" + (d.problems.total ? "" : " zero");
    if (!items.length) {
      list.innerHTML = '<li class="none">全网正常 All clear — no current alerts</li>';
    } else {
      const max = 14;
      // people signed in to the console get a link to the alert's page; the kiosk wall does not
      const base = document.body.dataset.alertUrl || "";
      const what = (p) => base && p.alert_id
        ? `<a href="${esc(base + p.alert_id)}">${esc(describe(p))}</a>` : esc(describe(p));
      list.innerHTML = items.slice(0, max).map((p) => `
        <li class="${esc(p.severity)}" data-id="${esc(p.id)}" data-since="${p.since || ""}">
          <span class="sev">${esc(SEV_ZH[p.severity] || p.severity)}</span>
          <span class="what">${what(p)} <b>${esc(STATE_ZH[p.state] || p.state || "")}</b></span>
          <span class="dur">${duration(p.since ? nowServer() - p.since : null)}</span>
          <span class="why">${esc(p.reason || "")}${p.children_count ? ` · 影响 ${p.children_count} 项 affected` : ""}${p.acked ? " · 已确认 acked" : ""}${p.assignee ? " · " + esc(p.assignee) : ""}</span>
        </li>`).join("") + (items.length > max || d.problems.total > max
        ? `<li class="more">另有 ${d.problems.total - max} 条 · ${d.problems.total - max} more</li>` : "");
    }
    $("alert-source").textContent = d.problems.source === "alerts"
      ? "来源 Source: 告警系统 alerts" : "来源 Source: 设备/链路状态 device & link state";
  }

  /* what devices said on their own; "suspect": reported, no poll has checked it yet (never red) */
  function drawTicker(d) {
    const list = $("ticker");
    if (!list) return;
    const items = d.ticker || [];
    const sus = new Set((d.suspects || []).map((x) => x.subject));
    list.innerHTML = items.length ? items.slice(0, 8).map((e) => {
      const t = new Date(e.ts * 1000).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
      const mark = e.device && e.subject && sus.has(`${e.device}:${e.subject}`) ? '<b class="suspect">待确认 suspect</b> ' : "";
      return `<li class="${esc(e.severity)}"><span class="t">${esc(t)}</span>
        <span class="what">${mark}${esc(e.device || "?")} ${esc(e.kind)}${e.count > 1 ? " ×" + e.count : ""}</span>
        <span class="why">${esc(e.text || "")}</span></li>`;
    }).join("") : '<li class="none">无 none</li>';
  }

  function availClass(v) { return v == null ? "" : v < 99 ? "bad" : v < 99.9 ? "warn" : ""; }

  function drawStats(d) {
    const a = d.availability || { backbone: {}, cities: [] };
    for (const k of ["today", "month"]) {
      const v = a.backbone ? a.backbone[k] : null;
      const el = $(`avail-${k}`);
      el.textContent = pct(v, 3);
      el.className = "val " + availClass(v);
    }
    $("avail-rows").innerHTML = (a.cities || []).map((c) => `
      <tr><td>${esc(c.name)} <span class="en">${esc(c.en)}</span></td>
      <td class="${availClass(c.today)}">${pct(c.today)}</td>
      <td class="${availClass(c.month)}">${pct(c.month)}</td></tr>`).join("");
    if (!wall.sdhChart || !$("sdh-chart").clientHeight) return;
    const rows = d.sdh.slice(0, 12).reverse();
    const fs = fontPx();
    wall.sdhChart.setOption({
      animation: false,
      grid: { left: "22%", right: "16%", top: 34, bottom: 30 },
      xAxis: { type: "value", min: 0, max: 100, axisLabel: { color: "#8ea3bd", fontSize: fs * 0.7, formatter: "{value}%" },
        splitLine: { lineStyle: { color: "#1f3350" } } },
      yAxis: { type: "category", data: rows.map((r) => `${r.name} ${r.en}`),
        axisLabel: { color: "#e6edf6", fontSize: fs * 0.8 } },
      series: [{
        type: "bar", barWidth: "60%",
        data: rows.map((r) => ({
          value: r.load_pct == null ? 0 : Math.min(100, r.load_pct),
          itemStyle: { color: r.state !== "up" ? COLORS[r.state] || COLORS.unknown
            : r.load_pct >= 90 ? COLORS.top : r.load_pct >= 70 ? COLORS.hi : COLORS.up },
          row: r,
        })),
        label: {
          show: true, position: "right", color: "#e6edf6", fontSize: fs * 0.72,
          formatter: (p) => {
            const r = p.data.row;
            if (r.state !== "up") return `${STATE_ZH[r.state] || r.state}`;
            return `↓${mbps(r.down_bps)} ↑${mbps(r.up_bps)} / 155 Mbit/s`;
          },
        },
        markLine: { silent: true, symbol: "none", data: [{ xAxis: 70 }, { xAxis: 90 }],
          lineStyle: { color: "#f59e0b", type: "dashed" }, label: { color: "#f59e0b", formatter: "{c}%" } },
      }],
    }, true);
  }

  const PORTAL_ZH = { tampered: "篡改/异常", down: "中断", degraded: "缓慢", unknown: "无数据" };
  function drawPortals(d) {
    const p = d.portals;
    if (!p) return;
    $("portal-total").textContent = String(p.total);
    for (const k of ["up", "degraded", "tampered", "down", "unknown"]) $(`portals-${k}`).textContent = String(p.counts[k] || 0);
    $("portal-list").innerHTML = p.items.map((r) => `
      <li class="${r.state === "degraded" ? "minor" : "critical"}" data-portal="${esc(r.id)}">
      <b>${esc(r.name)}</b> <span class="en">${esc(r.site_name || "")}</span>
      ${esc(PORTAL_ZH[r.state] || r.state)} ${esc((r.findings || []).join(", "))}</li>`).join("");
  }

  function render(d) {
    wall.data = d;
    wall.renders += 1;
    if (d.server_time) wall.skew = d.server_time - Date.now() / 1000;
    wall.lastMessage = Date.now();
    drawCounts(d);
    drawAlerts(d);
    drawTicker(d);
    drawMap();
    drawStats(d);
    drawPortals(d);
    tick();
  }

  /* ---------- clock, staleness, durations ---------- */
  function tick() {
    const t = new Date(nowServer() * 1000);
    $("clock").textContent = t.toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
    const d = wall.data;
    const banner = $("stale");
    let warn = "";
    if (!d) {
      warn = "正在连接网管中心… Connecting to the centre…";
    } else {
      $("asof").textContent = d.as_of
        ? new Date(d.as_of * 1000).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" })
        : "—";
      const age = d.as_of ? nowServer() - d.as_of : null;
      if (Date.now() - wall.lastMessage > 45000) {
        warn = `与网管中心的连接中断 Connection to the centre lost ${duration((Date.now() - wall.lastMessage) / 1000)} ago`;
      } else if (age == null) {
        warn = "尚无采集数据 No polling data yet";
      } else if (age > d.stale_after_s) {
        warn = `数据已过期 DATA STALE — last poll ${duration(age)} ago`;
      } else if (d.degraded && d.degraded.length) {
        warn = d.degraded.join(" · ");
      }
      for (const li of document.querySelectorAll("#alerts li[data-since]")) {
        const since = parseFloat(li.dataset.since);
        if (since) li.querySelector(".dur").textContent = duration(nowServer() - since);
      }
    }
    banner.hidden = !warn;
    banner.textContent = warn;
    body.classList.toggle("is-stale", Boolean(warn));
  }

  /* ---------- data transport ---------- */
  let pollTimer = null;
  async function poll() {
    try {
      const r = await fetch("/api/v1/wall", { credentials: "same-origin", cache: "no-store" });
      if (r.ok) { wall.source = wall.source === "sse" ? "sse" : "poll"; render(await r.json()); }
    } catch (e) { /* the staleness banner tells the room */ }
  }
  function startPolling() {
    if (!pollTimer) pollTimer = setInterval(poll, 10000);
  }
  function connect() {
    const es = new EventSource("/api/v1/wall/stream");
    es.addEventListener("wall", (e) => { wall.source = "sse"; render(JSON.parse(e.data)); });
    es.addEventListener("heartbeat", (e) => {
      const hb = JSON.parse(e.data);
      wall.skew = hb.server_time - Date.now() / 1000;
      wall.lastMessage = Date.now();
    });
    es.addEventListener("open", () => { if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } });
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) { // refused (too many streams, signed out): poll, retry later
        startPolling();
        setTimeout(connect, 60000);
      }
    };
    wall.es = es;
  }

  /* ---------- pages ---------- */
  const pages = (body.dataset.pages || "map").split(",");
  const rotateS = parseFloat(body.dataset.rotateS || "0");
  let current = 0;
  function showPage(i) {
    current = i % pages.length;
    for (const sec of document.querySelectorAll(".page")) sec.hidden = sec.dataset.page !== pages[current];
    $("pager").innerHTML = pages.length > 1
      ? pages.map((p, j) => `<span class="dot ${j === current ? "on" : ""}" title="${p}"></span>`).join("") : "";
    wall.page = pages[current];
    resize();
  }
  function resize() {
    if (wall.chart) { wall.chart.resize(); drawMap(); }
    if (wall.sdhChart) { wall.sdhChart.resize(); if (wall.data) drawStats(wall.data); }
  }

  async function start() {
    wall.mode = "schematic";
    if (body.dataset.outline === "on") {
      try {
        const r = await fetch("/api/v1/wall/outline", { credentials: "same-origin" });
        if (r.ok) { echarts.registerMap("nms-province", await r.json()); wall.mode = "geo"; }
      } catch (e) { /* schematic it is */ }
    }
    wall.chart = echarts.init($("map"), null, { renderer: "canvas" });
    wall.sdhChart = echarts.init($("sdh-chart"), null, { renderer: "canvas" });
    showPage(0);
    if (pages.length > 1 && rotateS > 0) setInterval(() => showPage(current + 1), rotateS * 1000);
    window.addEventListener("resize", resize);
    setInterval(tick, 1000);
    tick();
    await poll();
    connect();
  }

  /* for tests and for people at the console: what the map shows for a link id */
  wall.edgeStyle = function (linkId) {
    if (!wall.chart) return null;
    const opt = wall.chart.getOption();
    const series = opt && opt.series.find((s) => s.id === "net");
    const e = series && series.links.find((l) => (l.linkIds || []).includes(linkId));
    return e ? { color: e.lineStyle.color, type: e.lineStyle.type, width: e.lineStyle.width, state: e.state } : null;
  };
  wall.nodeStyle = function (siteId) {
    if (!wall.chart) return null;
    const opt = wall.chart.getOption();
    const series = opt && opt.series.find((s) => s.id === "net");
    const n = series && series.data.find((x) => x.name === siteId);
    return n ? { color: n.itemStyle.color, state: n.state, networks: n.networks, label: n.labelText } : null;
  };
  wall.colors = COLORS;

  start();
})();
