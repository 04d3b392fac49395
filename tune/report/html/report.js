/* The report's charts, table sorting and copy buttons, drawn from the JSON
   in #report-data. window.atvStatus (set up in <head>) records errors and,
   per chart, how many pixels it drew: shown in #render-status, which the
   browser test reads. */
(function () {
  "use strict";
  var status = window.atvStatus;
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var objs = D.objectives || [];
  var trials = D.trials || [];
  var params = D.params || [];
  var charts = {};
  var C = {search: "#2f6fdb", best: "#e8590c", infeasible: "#adb5bd", baseline: "#c62828", good: "#1a7f37", bad: "#c62828", ink: "#1f2933"};

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function fmt(v) {
    if (v === null || v === undefined) { return "—"; }
    if (typeof v !== "number") { return String(v); }
    return Math.abs(v) >= 1000 ? v.toFixed(0) : String(Number(v.toPrecision(4)));
  }
  function label(o) { return o.metric + (o.maximize ? " (max)" : " (min)"); }
  function better(a, b, o) { return o.maximize ? a > b : a < b; }
  function value(t, i) { return t.values && t.values.length > i ? t.values[i] : null; }

  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    try {
      var c = echarts.init(el, null, {renderer: "canvas"});
      option.animation = false;
      c.setOption(option);
      charts[id] = c;
      return c;
    } catch (e) {
      status.errors.push(id + ": " + (e && e.message ? e.message : e));
      return null;
    }
  }

  var baseTitle = {left: 8, top: 6, textStyle: {fontSize: 13, fontWeight: 600}};
  function title(text) { return Object.assign({text: text}, baseTitle); }

  // Optimisation history: one chart per objective.
  function history(i) {
    var o = objs[i], search = [], infeasible = [], best = [], baseline = [], cur = null;
    trials.forEach(function (t) {
      var v = value(t, i);
      if (t.kind === "baseline") {
        if (t.status === "baseline" && v !== null) { baseline.push([t.number, v]); }
        return;
      }
      if (t.status === "complete" && v !== null) {
        search.push([t.number, v]);
        if (cur === null || better(v, cur, o)) { cur = v; }
      } else if (t.status === "infeasible" && v !== null) {
        infeasible.push([t.number, v]);
      }
      if (cur !== null) { best.push([t.number, cur]); }
    });
    var ref = D.baseline && D.baseline.values ? D.baseline.values[i] : null;
    var baseSeries = {name: "baseline", type: "scatter", symbol: "diamond", symbolSize: 12, data: baseline, itemStyle: {color: C.baseline}};
    if (ref !== null && ref !== undefined) {
      baseSeries.markLine = {symbol: "none", silent: true, data: [{yAxis: ref}], lineStyle: {color: C.baseline, type: "dashed"},
        label: {formatter: "defaults " + fmt(ref), position: "insideEndTop", color: C.baseline}};
    }
    draw("chart-history-" + i, {
      title: title(label(o)),
      legend: {top: 6, right: 8, itemWidth: 14, textStyle: {fontSize: 11}},
      tooltip: {trigger: "item", formatter: function (p) { return esc(p.seriesName) + ", trial " + p.value[0] + "<br>" + esc(o.metric) + ": " + fmt(p.value[1]); }},
      grid: {left: 64, right: 24, top: 44, bottom: 44},
      xAxis: {type: "value", name: "trial", nameLocation: "middle", nameGap: 26, minInterval: 1},
      yAxis: {type: "value", scale: true},
      series: [
        {name: "trial", type: "scatter", data: search, itemStyle: {color: C.search}},
        {name: "infeasible", type: "scatter", symbol: "emptyCircle", data: infeasible, itemStyle: {color: C.infeasible}},
        {name: "best so far", type: "line", step: "end", showSymbol: false, data: best, lineStyle: {color: C.best, width: 2}, itemStyle: {color: C.best}},
        baseSeries
      ]
    });
  }

  // Pareto front of objectives xi and yi, with the baseline marked.
  function paretoOption(xi, yi) {
    var front = [], others = [], infeasible = [], base = [];
    trials.forEach(function (t) {
      var x = value(t, xi), y = value(t, yi);
      if (x === null || y === null) { return; }
      var p = [x, y, t.number];
      if (t.status === "baseline") { base.push(p); }
      else if (t.status === "complete") { (t.best ? front : others).push(p); }
      else if (t.status === "infeasible") { infeasible.push(p); }
    });
    front.sort(function (a, b) { return a[0] - b[0]; });
    var tip = function (p) {
      return esc(p.seriesName) + ", trial " + p.value[2] + "<br>" + esc(objs[xi].metric) + ": " + fmt(p.value[0]) +
        "<br>" + esc(objs[yi].metric) + ": " + fmt(p.value[1]);
    };
    return {
      title: title(label(objs[yi]) + " against " + label(objs[xi])),
      legend: {top: 6, right: 8, textStyle: {fontSize: 11}},
      tooltip: {trigger: "item", formatter: tip},
      grid: {left: 72, right: 32, top: 48, bottom: 48},
      xAxis: {type: "value", scale: true, name: objs[xi].metric, nameLocation: "middle", nameGap: 28},
      yAxis: {type: "value", scale: true, name: objs[yi].metric, nameLocation: "end"},
      series: [
        {name: "trial", type: "scatter", data: others, itemStyle: {color: C.search, opacity: 0.7}},
        {name: "infeasible", type: "scatter", symbol: "emptyCircle", data: infeasible, itemStyle: {color: C.infeasible}},
        // The front is a line only where it is one: in two objectives.
        {name: "Pareto-optimal", type: objs.length === 2 ? "line" : "scatter", data: front, symbolSize: 10,
          itemStyle: {color: C.best}, lineStyle: {color: C.best, type: "dashed"}},
        {name: "baseline (vLLM defaults)", type: "scatter", symbol: "diamond", symbolSize: 16, data: base,
          itemStyle: {color: C.baseline}, label: {show: true, formatter: "defaults", position: "right", color: C.baseline}}
      ]
    };
  }
  function pareto() {
    if (objs.length < 2) { return; }
    var c = draw("chart-pareto", paretoOption(0, 1));
    var sx = document.getElementById("pareto-x"), sy = document.getElementById("pareto-y");
    if (!c || !sx || !sy) { return; }
    objs.forEach(function (o, i) {
      sx.add(new Option(o.metric, String(i), false, i === 0));
      sy.add(new Option(o.metric, String(i), false, i === 1));
    });
    var redraw = function () { c.setOption(paretoOption(+sx.value, +sy.value), true); };
    sx.addEventListener("change", redraw);
    sy.addEventListener("change", redraw);
  }

  // Parallel coordinates: the parameters, then the objectives.
  function parallel() {
    var axes = params.map(function (p, k) {
      if (p.choices) { return {dim: k, name: p.name, type: "category", data: p.choices}; }
      return {dim: k, name: p.name, type: p.log ? "log" : "value", scale: true};
    });
    objs.forEach(function (o, j) {
      axes.push({dim: params.length + j, name: o.metric, type: "value", scale: true, nameTextStyle: {fontWeight: "bold", color: C.ink}});
    });
    var rows = [];
    trials.forEach(function (t) {
      if (t.status !== "complete") { return; }
      var row = params.map(function (p) {
        var v = t.params[p.name];
        if (v === undefined || v === null) { return null; }
        return p.choices ? String(v) : v;
      });
      objs.forEach(function (o, j) { row.push(value(t, j)); });
      rows.push(row);
    });
    var option = {
      parallel: {left: 48, right: 110, top: 96, bottom: 28, parallelAxisDefault: {nameLocation: "end", nameGap: 12, nameRotate: 12, nameTextStyle: {fontSize: 11}}},
      parallelAxis: axes,
      tooltip: {},
      series: [{type: "parallel", data: rows, lineStyle: {width: 1.5, opacity: 0.75}, emphasis: {lineStyle: {width: 3}}}]
    };
    var first = rows.map(function (r) { return r[params.length]; }).filter(function (v) { return v !== null; });
    if (first.length > 0) {
      var lo = Math.min.apply(null, first), hi = Math.max.apply(null, first);
      option.visualMap = {type: "continuous", dimension: params.length, min: lo, max: hi === lo ? lo + 1 : hi, calculable: true,
        orient: "horizontal", right: 16, top: 4, itemWidth: 12, itemHeight: 160, text: ["", objs[0].metric], textGap: 8, textStyle: {fontSize: 11},
        inRange: {color: objs[0].maximize ? ["#c6dbef", "#08306b"] : ["#08306b", "#c6dbef"]}};
    } else {
      option.series[0].lineStyle.color = C.search;
    }
    draw("chart-parallel", option);
  }

  // Parameter importance: one bar per parameter (and objective).
  function importance() {
    var imp = D.importance || [];
    if (imp.length === 0) { return; }
    var groups = [], byGroup = {}, top = {};
    imp.forEach(function (x) {
      var g = x.objective || "importance";
      if (!byGroup[g]) { byGroup[g] = {}; groups.push(g); }
      byGroup[g][x.name] = x.value;
      top[x.name] = Math.max(top[x.name] || 0, x.value);
    });
    var names = Object.keys(top).sort(function (a, b) { return top[a] - top[b]; });
    var el = document.getElementById("chart-importance");
    if (el) { el.style.height = Math.max(240, 80 + names.length * 22 * groups.length) + "px"; }
    draw("chart-importance", {
      legend: groups.length > 1 ? {top: 6, right: 8} : undefined,
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}, valueFormatter: fmt},
      grid: {left: 16, right: 48, top: 36, bottom: 28, containLabel: true},
      xAxis: {type: "value", name: "importance", nameLocation: "middle", nameGap: 22},
      yAxis: {type: "category", data: names},
      series: groups.map(function (g) {
        return {name: g, type: "bar", data: names.map(function (n) { return byGroup[g][n] === undefined ? null : byGroup[g][n]; }),
          label: {show: true, position: "right", formatter: function (p) { return fmt(p.value); }, fontSize: 11}};
      })
    });
  }

  // The confirmed trials against the baseline: change with its interval,
  // one panel per objective.
  function confirmation() {
    var c = D.confirmation;
    if (!c || !c.baseline || !c.trials || c.trials.length === 0) { return; }
    var cats = c.trials.map(function (t) { return "trial " + t.number; });
    var n = objs.length, grids = [], xs = [], ys = [], series = [];
    objs.forEach(function (o, j) {
      var w = 100 / n;
      grids.push({left: (j * w + 2) + "%", width: (w - 4) + "%", top: 56, bottom: 40, containLabel: true});
      xs.push({gridIndex: j, type: "value", name: "% vs defaults", nameLocation: "middle", nameGap: 24, axisLabel: {formatter: "{value} %"}});
      ys.push({gridIndex: j, type: "category", data: cats, inverse: true});
      var bars = [], whiskers = [];
      c.trials.forEach(function (t, k) {
        var ch = t.vs_baseline ? t.vs_baseline[j] : null;
        if (!ch) { bars.push(null); return; }
        var good = (ch.percent > 0) === o.maximize;
        bars.push({value: ch.percent, itemStyle: {color: good ? C.good : C.bad, opacity: 0.75}});
        if (ch.ci95_low !== null && ch.ci95_high !== null) { whiskers.push([k, ch.ci95_low, ch.ci95_high]); }
      });
      series.push({name: o.metric, type: "bar", xAxisIndex: j, yAxisIndex: j, data: bars, barWidth: "45%",
        markLine: {symbol: "none", silent: true, data: [{xAxis: 0}], lineStyle: {color: C.ink}, label: {show: false}}});
      series.push({name: o.metric + " 95 % CI", type: "custom", xAxisIndex: j, yAxisIndex: j, data: whiskers,
        encode: {x: [1, 2], y: 0}, z: 10, renderItem: whisker});
    });
    draw("chart-confirm", {
      title: objs.map(function (o, j) {
        return {text: o.metric + (o.maximize ? " (higher is better)" : " (lower is better)"), left: (j * 100 / n + 2) + "%", top: 6, textStyle: {fontSize: 13, fontWeight: 600}};
      }),
      tooltip: {trigger: "item", valueFormatter: function (v) { return fmt(v) + " %"; }},
      grid: grids, xAxis: xs, yAxis: ys, series: series
    });
  }
  function whisker(params, api) {
    var k = api.value(0), a = api.coord([api.value(1), k]), b = api.coord([api.value(2), k]);
    var h = api.size([0, 1])[1] * 0.3, st = {stroke: C.ink, lineWidth: 1.5};
    return {type: "group", children: [
      {type: "line", shape: {x1: a[0], y1: a[1], x2: b[0], y2: b[1]}, style: st},
      {type: "line", shape: {x1: a[0], y1: a[1] - h / 2, x2: a[0], y2: a[1] + h / 2}, style: st},
      {type: "line", shape: {x1: b[0], y1: b[1] - h / 2, x2: b[0], y2: b[1] + h / 2}, style: st}
    ]};
  }

  // Sorting the trial table by a column: numbers as numbers, blanks last.
  function sortable(table) {
    if (!table || !table.tHead) { return; }
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () {
        var asc = !th.classList.contains("asc");
        Array.prototype.forEach.call(heads, function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var key = function (r) { return r.cells[col].getAttribute("data-sort") || ""; };
        var numeric = rows.every(function (r) { var k = key(r); return k === "" || isFinite(Number(k)); });
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          if (x === "" || y === "") { return (x === "") - (y === ""); }
          var d = numeric ? Number(x) - Number(y) : x.localeCompare(y);
          return asc ? d : -d;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function copyButtons() {
    document.querySelectorAll("button.copy").forEach(function (b) {
      b.addEventListener("click", function () {
        var text = b.parentNode.querySelector("code").textContent;
        var done = function (ok) {
          b.textContent = ok ? "Copied" : "Select and copy";
          setTimeout(function () { b.textContent = "Copy"; }, 1500);
        };
        var fallback = function () {
          var ta = document.createElement("textarea");
          ta.value = text;
          ta.style.position = "fixed";
          ta.style.opacity = "0";
          document.body.appendChild(ta);
          ta.select();
          var ok = false;
          try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
          document.body.removeChild(ta);
          done(ok);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { done(true); }, fallback);
        } else {
          fallback();
        }
      });
    });
  }

  // measure records, per chart, the pixels its canvases drew.
  function measure() {
    document.querySelectorAll(".chart").forEach(function (el) {
      var n = 0;
      el.querySelectorAll("canvas").forEach(function (cv) {
        try {
          var px = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
          for (var i = 3; i < px.length; i += 16) { if (px[i] !== 0) { n++; } }
        } catch (e) {
          status.errors.push("measure " + el.id + ": " + e.message);
        }
      });
      status.charts[el.id] = n;
      el.setAttribute("data-pixels", String(n));
    });
    status.done = true;
    show();
  }
  function show() {
    document.getElementById("render-status").textContent = JSON.stringify(status);
    var box = document.getElementById("errors");
    if (status.errors.length > 0) {
      box.hidden = false;
      box.textContent = "This report did not draw fully:\n" + status.errors.join("\n");
    }
  }

  // Each part on its own: one that fails leaves the others drawn.
  var parts = objs.map(function (o, i) { return function () { history(i); }; }).concat([
    pareto, parallel, importance, confirmation, copyButtons,
    function () { sortable(document.getElementById("trial-table")); }
  ]);
  parts.forEach(function (part) {
    try {
      part();
    } catch (e) {
      status.errors.push(String(e && e.stack ? e.stack : e));
    }
  });
  Object.keys(charts).forEach(function (id) {
    var zr = charts[id].getZr();
    if (zr && zr.refreshImmediately) { zr.refreshImmediately(); }
  });
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (id) { charts[id].resize(); }); });
  window.addEventListener("error", show);
  requestAnimationFrame(function () { setTimeout(measure, 0); });
})();
