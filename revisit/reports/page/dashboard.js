/* The manager's dashboard: draws its charts with Apache ECharts from the JSON island
 * #rv-dashboard-data (no inline script, so the app keeps CSP script-src 'self'), and makes
 * every table downloadable as CSV, built here from the raw values the island carries per
 * table (revisit/reports/page/tables.py: numbers as numbers, codes beside their labels;
 * UTF-8 with a BOM for Excel). */
(function () {
  "use strict";
  var node = document.getElementById("rv-dashboard-data");
  if (!node) { return; }
  var island = JSON.parse(node.textContent);
  var t = island.labels;
  var d = island.data;
  var PALETTE = ["#2f6fb3", "#d9822b", "#3a9a5b", "#b5446e", "#7a5bb5", "#1c9aa5",
    "#9a7b2f", "#5b6770"];
  var FONT = "system-ui, \"Noto Sans CJK SC\", \"Noto Sans SC\", \"PingFang SC\", " +
    "\"Microsoft YaHei\", sans-serif";
  var charts = [];

  function pct(v) { return v === null || v === undefined ? null : Math.round(v * 1000) / 10; }
  function unique(values) {
    var seen = {}, out = [];
    values.forEach(function (v) { if (!seen[v]) { seen[v] = true; out.push(v); } });
    return out;
  }
  function colour(i) { return PALETTE[i % PALETTE.length]; }

  function draw(id, rows, option) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") { return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    if (!rows.length) {
      option = { title: { text: t.empty, left: "center", top: "middle",
        textStyle: { color: "#9aa5b1", fontSize: 14, fontWeight: "normal" } } };
    }
    option.animation = false;
    option.textStyle = { fontFamily: FONT };
    chart.setOption(option);
    charts.push(chart);
  }

  function trendCharts() {
    var periods = unique(d.trend.map(function (r) { return r.period; })).sort();
    var campaigns = unique(d.trend.map(function (r) { return r.campaign; }));
    var byKey = {};
    d.trend.forEach(function (r) { byKey[r.campaign + "|" + r.period] = r; });
    var rates = [], lifts = [];
    campaigns.forEach(function (code, i) {
      var rows = periods.map(function (p) { return byKey[code + "|" + p] || null; });
      var name = t["campaign:" + code] || code;
      rates.push({ type: "line", name: name, color: colour(i), connectNulls: true,
        data: rows.map(function (r) { return r ? pct(r.return_rate) : null; }) });
      rates.push({ type: "line", name: name + " · " + t.holdout, color: colour(i),
        lineStyle: { type: "dashed" }, symbol: "emptyCircle", connectNulls: true,
        data: rows.map(function (r) { return r ? pct(r.holdout_return_rate) : null; }) });
      var points = [];
      rows.forEach(function (r, x) {
        if (r && r.lift !== null) {
          points.push([x, pct(r.lift), pct(r.lift_ci_low), pct(r.lift_ci_high)]);
        }
      });
      lifts.push(intervalSeries(name, colour(i), i, campaigns.length, points));
    });
    var axis = { type: "category", data: periods };
    var grid = { left: 48, right: 16, top: 56, bottom: 32, containLabel: true };
    draw("rv-chart-trend", d.trend, {
      color: PALETTE, grid: grid, xAxis: axis,
      legend: { type: "scroll", top: 0 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
      yAxis: { type: "value", name: t.return_rate + " %", axisLabel: { formatter: "{value}%" } },
      series: rates
    });
    draw("rv-chart-lift", d.trend, {
      grid: grid, xAxis: axis, legend: { type: "scroll", top: 0 },
      tooltip: { trigger: "item", formatter: function (p) {
        var v = p.value;
        return p.seriesName + " " + periods[v[0]] + "<br>" + t.lift + ": " + v[1] +
          " [" + v[2] + ", " + v[3] + "]";
      } },
      yAxis: { type: "value", name: t.lift + " · " + t.lift_ci },
      series: lifts
    });
  }

  /* The lift as a dot with its 95% interval as a bar, campaigns side by side per period. */
  function intervalSeries(name, color, index, count, points) {
    return {
      type: "custom", name: name, color: color, data: points,
      encode: { x: 0, y: [1, 2, 3], tooltip: [1, 2, 3] },
      renderItem: function (params, api) {
        var shift = (index - (count - 1) / 2) * 14;
        var mid = api.coord([api.value(0), api.value(1)]);
        var low = api.coord([api.value(0), api.value(2)]);
        var high = api.coord([api.value(0), api.value(3)]);
        var x = mid[0] + shift;
        var style = { stroke: color, lineWidth: 1.5 };
        return { type: "group", children: [
          { type: "line", shape: { x1: x, y1: low[1], x2: x, y2: high[1] }, style: style },
          { type: "line", shape: { x1: x - 4, y1: low[1], x2: x + 4, y2: low[1] }, style: style },
          { type: "line", shape: { x1: x - 4, y1: high[1], x2: x + 4, y2: high[1] }, style: style },
          { type: "circle", shape: { cx: x, cy: mid[1], r: 4 }, style: { fill: color } }
        ] };
      }
    };
  }

  /* The funnel as bars, top stage first: a stage may exceed the one before it (a call is
   * reached without an SMS delivered), which a funnel shape would hide. */
  function funnelChart() {
    var stages = d.funnel.slice().reverse();
    var top = d.funnel.length ? d.funnel[0].count : 0;
    draw("rv-chart-funnel", d.runs, {
      color: PALETTE, grid: { left: 8, right: 88, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", minInterval: 1, splitNumber: 3, axisLabel: { hideOverlap: true } },
      yAxis: { type: "category", data: stages.map(function (s) { return t[s.stage]; }) },
      series: [{ type: "bar", name: t.count,
        label: { show: true, position: "right", formatter: function (p) {
          return p.value + (top ? " (" + pct(p.value / top) + "%)" : "");
        } },
        data: stages.map(function (s) { return s.count; }) }]
    });
  }

  function reasonsChart() {
    var rows = d.reasons.slice().reverse();
    draw("rv-chart-reasons", d.reasons, {
      color: PALETTE, grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", minInterval: 1, splitNumber: 3, axisLabel: { hideOverlap: true } },
      yAxis: { type: "category",
        data: rows.map(function (r) { return t["reason:" + r.reason] || r.reason; }) },
      series: [{ type: "bar", name: t.declined,
        data: rows.map(function (r) { return r.declined; }) }]
    });
  }

  function staffChart() {
    var keys = ["listed", "called", "reached", "booked", "returned"];
    draw("rv-chart-staff", d.staff, {
      color: PALETTE, grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
      legend: { type: "scroll", top: 0 }, tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: d.staff.map(function (r) { return r.staff; }) },
      yAxis: { type: "value", minInterval: 1 },
      series: keys.map(function (k) {
        return { type: "bar", name: t[k], data: d.staff.map(function (r) { return r[k]; }) };
      })
    });
  }

  function upsellChart() {
    var rows = d.upsell.month;
    draw("rv-chart-upsell", rows, {
      color: PALETTE, grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
      legend: { top: 0 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
      xAxis: { type: "category", data: rows.map(function (r) { return r.month; }) },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: ["upsell_rate", "upsell_success_rate"].map(function (k) {
        return { type: "line", name: t[k], data: rows.map(function (r) { return pct(r[k]); }) };
      })
    });
  }

  /* One CSV field: a number as it is, null as nothing, text quoted when it must be (a text
   * starting with = + - @ gets a leading ' so that it never runs as a formula). */
  function csvField(value) {
    if (value === null || value === undefined) { return ""; }
    if (typeof value === "number") { return String(value); }
    value = String(value);
    if (/^[=+\-@\t\r]/.test(value)) { value = "'" + value; }
    if (/[",\r\n]/.test(value)) { value = "\"" + value.replace(/"/g, "\"\"") + "\""; }
    return value;
  }

  /* A table's CSV text from the island's raw values (not from the cells shown): its heads,
   * then every row. */
  function tableCsv(id) {
    var table = island.csv[id];
    var lines = [table.heads].concat(table.rows).map(function (row) {
      return row.map(csvField).join(",");
    });
    return lines.join("\r\n") + "\r\n";
  }

  function download(event) {
    var button = event.currentTarget;
    var text = tableCsv(button.getAttribute("data-csv"));
    var blob = new Blob(["\ufeff" + text], { type: "text/csv;charset=utf-8" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = button.getAttribute("data-file");
    document.body.appendChild(link);
    link.click();
    document.body.removeChild(link);
    // revoked once the download has surely read it (revoking at once can cancel it)
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 60000);
  }

  Array.prototype.forEach.call(document.querySelectorAll(".rv-csv"), function (button) {
    button.addEventListener("click", download);
  });
  trendCharts();
  funnelChart();
  reasonsChart();
  staffChart();
  upsellChart();
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
  window.revisitDashboard = { charts: charts, tableCsv: tableCsv };
}());
