/* Operator console: local times, and interface / health charts from /api/v1/console/series. */
(function () {
  "use strict";
  for (const t of document.querySelectorAll("time[data-ts]")) {
    const d = new Date(parseFloat(t.dataset.ts) * 1000);
    t.textContent = d.toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
    t.title = d.toISOString();
  }
  if (typeof echarts === "undefined") return;
  const NAMES = {
    in_bps: "入 In", out_bps: "出 Out", cpu_pct: "CPU %", mem_pct: "内存 Mem %",
    temperature_c: "温度 Temp °C", rtt_ms: "时延 RTT ms", loss_pct: "丢包 Loss %", in_errors: "入错包 In errors", out_errors: "出错包 Out errors",
  };
  async function draw(el) {
    const q = new URLSearchParams({ device: el.dataset.device, interface: el.dataset.interface,
      range: "custom", from: new Date(el.dataset.t0 * 1000).toISOString(), to: new Date(el.dataset.t1 * 1000).toISOString() });
    const chart = echarts.init(el);
    let data;
    try {
      const r = await fetch(`${el.dataset.series}?${q}`, { credentials: "same-origin" });
      data = await r.json();
      if (!r.ok) throw new Error(data.error || r.status);
    } catch (e) {
      chart.setOption({ title: { text: `无法读取 cannot load: ${e.message}`, left: "center", top: "middle", textStyle: { fontSize: 13, color: "#c62828" } } });
      return;
    }
    const traffic = el.dataset.kind === "traffic";
    const wanted = { traffic: ["in_bps", "out_bps"], icmp: ["rtt_ms", "loss_pct"] }[el.dataset.kind]
      || ["cpu_pct", "mem_pct", "temperature_c"];
    const series = [];
    for (const m of wanted) {
      const col = data.columns[m] || data.columns[`${m}.avg`];
      if (!col || !col.some((v) => v != null)) continue;
      series.push({ name: NAMES[m], type: "line", showSymbol: false, connectNulls: false,
        areaStyle: traffic ? { opacity: 0.12 } : undefined,
        data: data.ts.map((t, i) => [t * 1000, col[i] == null ? null : traffic ? col[i] / 1e6 : col[i]]) });
      const mx = data.columns[`${m}.max`];
      if (mx && traffic) series.push({ name: `${NAMES[m]} max`, type: "line", showSymbol: false,
        lineStyle: { type: "dotted", width: 1 }, data: data.ts.map((t, i) => [t * 1000, mx[i] == null ? null : mx[i] / 1e6]) });
    }
    const cap = parseFloat(el.dataset.capacity || "0");
    if (traffic && cap && series.length) series[0].markLine = { symbol: "none", data: [{ yAxis: cap / 1e6, name: "capacity" }],
      lineStyle: { color: "#c62828", type: "dashed" }, label: { formatter: `${(cap / 1e6).toFixed(1)} Mbit/s` } };
    chart.setOption({
      animation: false, tooltip: { trigger: "axis" }, legend: { top: 0 },
      grid: { left: 60, right: 20, top: 30, bottom: 30 },
      xAxis: { type: "time", min: el.dataset.t0 * 1000, max: el.dataset.t1 * 1000 },
      yAxis: { type: "value", name: traffic ? "Mbit/s" : "", min: 0 },
      series: series.length ? series : [{ type: "line", data: [] }],
      title: series.length ? undefined : { text: `无数据 no data (${data.level})`, left: "center", top: "middle", textStyle: { fontSize: 13, color: "#5b6b7c" } },
    });
    el.dataset.points = String(data.ts.length);
    el.dataset.level = data.level;
  }
  for (const el of document.querySelectorAll(".chart[data-series]")) draw(el);
})();
