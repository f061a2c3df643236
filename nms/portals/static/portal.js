/* Portal page: the timings chart (DNS, connect, TLS, first byte, total) from /api/v1/portals/<id>. */
(function () {
  "use strict";
  const el = document.getElementById("timings-chart");
  if (!el || typeof echarts === "undefined") return;
  const NAMES = { dns_ms: "DNS", connect_ms: "连接 Connect", tls_ms: "TLS", first_byte_ms: "首字节 First byte", total_ms: "总计 Total" };
  fetch(el.dataset.portal, { credentials: "same-origin" })
    .then((r) => r.json())
    .then((data) => {
      const chart = echarts.init(el);
      chart.setOption({
        animation: false, tooltip: { trigger: "axis" }, legend: { top: 0 },
        grid: { left: 60, right: 20, top: 30, bottom: 30 },
        xAxis: { type: "time" }, yAxis: { type: "value", name: "ms", min: 0 },
        series: Object.keys(NAMES).map((k) => ({
          name: NAMES[k], type: "line", showSymbol: false,
          data: data.timings.map((t) => [t.ts * 1000, t[k]]),
        })),
      });
      el.dataset.points = String(data.timings.length);
    });
})();
