/* The overview's charts: reads /dashboard/charts/data/?range=24h|7d and draws each chart
   with uPlot 1.6.32 (vendor/uplot/, MIT), served from the project. No inline script or
   style: every style is set through the CSSOM, which the Content-Security-Policy allows.
   window.GSCharts exposes the plots (for the browser tests and for curious operators). */
(function () {
  "use strict";

  var REFRESH_MS = 60000;
  var HEIGHT = 220;
  var STATE_COLOURS = {
    succeeded: "#12805c", failed: "#c01048", running: "#2f5bea", starting: "#7a5af8",
    pending: "#e8a33d", skipped: "#b54708", cancelled: "#98a2b3"
  };
  var CAPTIONS = { "24h": "last 24 hours, per hour (UTC)", "7d": "last 7 days, per day (UTC)" };

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function number(v, digits) {
    if (v === null || v === undefined) return "—";
    return Number(v).toLocaleString("en", { maximumFractionDigits: digits === undefined ? 2 : digits });
  }

  function withUnit(unit, digits) {
    return function (u, v) { return v === null || v === undefined ? "—" : number(v, digits) + unit; };
  }

  function seconds(u, v) {
    if (v === null || v === undefined) return "—";
    if (Math.abs(v) < 120) return number(v, 1) + " s";
    if (Math.abs(v) < 7200) return number(v / 60, 1) + " min";
    return number(v / 3600, 1) + " h";
  }

  function utcDate(ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }

  function timeText(ts, bucket) {
    var d = new Date(ts * 1000).toISOString();
    return bucket === "day" ? d.slice(0, 10) : d.slice(0, 10) + " " + d.slice(11, 16) + " UTC";
  }

  /* A tooltip at the cursor: the bucket and every visible series' value (uPlot's live
     legend under the chart shows the same values). */
  function tooltipPlugin(bucket) {
    var tip;
    return {
      hooks: {
        init: function (u) {
          tip = document.createElement("div");
          tip.className = "chart-tooltip";
          tip.hidden = true;
          tip.setAttribute("role", "tooltip");
          u.over.appendChild(tip);
        },
        setCursor: function (u) {
          var idx = u.cursor.idx;
          if (idx === null || idx === undefined || u.cursor.left < 0) { tip.hidden = true; return; }
          tip.textContent = "";
          var head = document.createElement("div");
          head.className = "tt-time";
          head.textContent = timeText(u.data[0][idx], bucket);
          tip.appendChild(head);
          u.series.forEach(function (s, i) {
            if (i === 0 || !s.show) return;
            var line = document.createElement("div");
            var swatch = document.createElement("span");
            swatch.className = "tt-swatch";
            swatch.style.background = typeof s.stroke === "function" ? s.stroke(u, i) : s.stroke;
            line.appendChild(swatch);
            line.appendChild(document.createTextNode(s.label + ": " + s.value(u, u.data[i][idx])));
            tip.appendChild(line);
          });
          tip.hidden = false;
          var left = u.cursor.left + 12;
          if (left + tip.offsetWidth > u.over.clientWidth) left = u.cursor.left - tip.offsetWidth - 12;
          tip.style.transform = "translate(" + Math.max(left, 0) + "px," + Math.max(u.cursor.top - 10, 0) + "px)";
        }
      }
    };
  }

  function zeroBased(u, min, max) {
    if (max === null || max === undefined || max <= 0) return [0, 1];
    return [0, max * 1.1];
  }

  function axes(yLabel, yValues, right) {
    var ink = cssVar("--muted", "#667085");
    var grid = { stroke: cssVar("--line", "#e4e7ec"), width: 1 };
    var list = [
      { label: "time (UTC)", stroke: ink, grid: grid, ticks: grid, labelSize: 20 },
      { label: yLabel, stroke: ink, grid: grid, ticks: grid, values: yValues, size: 60 }
    ];
    if (right) {
      list.push({ scale: right.scale, label: right.label, side: 1, stroke: ink, grid: { show: false },
        values: right.values, size: 55 });
    }
    return list;
  }

  function line(label, colour, value, extra) {
    var s = { label: label, stroke: colour, width: 2, value: value, points: { size: 5 }, spanGaps: false };
    return Object.assign(s, extra || {});
  }

  function bars(label, colour, value) {
    return { label: label, stroke: colour, fill: colour + "99", width: 1, value: value,
      paths: uPlot.paths.bars({ size: [0.7, 48] }), points: { show: false } };
  }

  /* name -> [series, data columns, axes, extra scales] for one range's JSON. */
  function specs(d) {
    var per = "per " + d.bucket_label;
    var count = withUnit("", 0);
    var cap = d.capacity;
    return {
      executions: {
        series: d.states.map(function (state) {
          return line(state, STATE_COLOURS[state] || "#667085", count);
        }),
        data: d.states.map(function (state) { return d.executions[state]; }),
        axes: axes("executions " + per)
      },
      failures: {
        series: [
          bars("failed", STATE_COLOURS.failed, count),
          line("failure rate", "#7a5af8", withUnit(" %", 1), { scale: "%" })
        ],
        data: [d.failed, d.failure_rate_percent],
        axes: axes("failures " + per, null,
          { scale: "%", label: "% of finished", values: function (u, ticks) { return ticks.map(function (t) { return t + " %"; }); } }),
        scales: { "%": { range: [0, 100] } }
      },
      items: {
        series: [bars("items", "#2f5bea", count)],
        data: [d.items],
        axes: axes("items " + per)
      },
      lateness: {
        series: [line("p50", "#12805c", seconds), line("p99", "#c01048", seconds)],
        data: [d.lateness_p50_s, d.lateness_p99_s],
        axes: axes("lateness (s)"),
        note: d.percentiles ? "" : "Percentiles need PostgreSQL: none on this database."
      },
      cost: {
        series: [bars("cost", "#e8a33d", withUnit(" USD", 4))],
        data: [d.cost_usd],
        axes: axes("USD " + per, function (u, ticks) { return ticks.map(function (t) { return "$" + number(t, 3); }); })
      },
      capacity: {
        series: [
          line("runs in use (avg)", "#2f5bea", withUnit("", 2)),
          line("runs in use (peak)", "#7a5af8", count, { dash: [4, 3] }),
          line("run limit", "#c01048", count, { dash: [6, 4], points: { show: false } }),
          line("waiting (peak)", "#e8a33d", count)
        ],
        data: [cap.runs_in_use_avg, cap.runs_in_use_max, cap.runs_limit, cap.waiting_max],
        axes: axes("Apify runs")
      }
    };
  }

  var state = { range: "24h", plots: {}, data: null, timer: null };

  function width(el) { return Math.max(el.clientWidth || 0, 200); }

  function draw(root, d) {
    Object.keys(state.plots).forEach(function (k) { state.plots[k].destroy(); });
    state.plots = {};
    var all = specs(d);
    var half = (d.x.length > 1 ? d.x[1] - d.x[0] : 3600) / 2;
    /* Half a bucket on each side: the first and last bars are drawn whole. */
    function padded(u, min, max) { return [min - half, max + half]; }
    root.querySelectorAll(".chart-box").forEach(function (box) {
      var name = box.getAttribute("data-chart");
      var spec = all[name];
      var target = box.querySelector(".chart-plot");
      if (!spec || !target) return;
      var scales = Object.assign({ x: { time: true, range: padded }, y: { range: zeroBased } }, spec.scales || {});
      var opts = {
        width: width(target),
        height: HEIGHT,
        tzDate: utcDate,
        scales: scales,
        series: [{ label: "time", value: function (u, ts) { return ts === null ? "—" : timeText(ts, d.bucket); } }].concat(spec.series),
        axes: spec.axes,
        cursor: { drag: { x: false, y: false }, points: { size: 7 } },
        legend: { live: true },
        plugins: [tooltipPlugin(d.bucket)]
      };
      var plot = new uPlot(opts, [d.x].concat(spec.data), target);
      state.plots[name] = plot;
      box.setAttribute("data-y-label", spec.axes[1].label);
      var note = box.querySelector(".chart-note");
      if (spec.note && !note) {
        note = document.createElement("p");
        note.className = "chart-note muted";
        box.appendChild(note);
      }
      if (note) note.textContent = spec.note || "";
    });
  }

  function setStatus(root, text, error) {
    var status = root.querySelector(".charts-status");
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  function load(root, range) {
    var url = root.getAttribute("data-url") + "?range=" + encodeURIComponent(range);
    root.setAttribute("data-state", "loading");
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("application/json") !== 0) {
          throw new Error("HTTP " + response.status + (response.redirected ? " (logged out?)" : ""));
        }
        return response.json();
      })
      .then(function (d) {
        state.range = range;
        state.data = d;
        draw(root, d);
        root.setAttribute("data-range", range);
        root.setAttribute("data-state", "ready");
        root.querySelector("[data-testid=charts-caption]").textContent = CAPTIONS[range] || range;
        root.querySelectorAll(".range-toggle button").forEach(function (b) {
          b.setAttribute("aria-pressed", String(b.getAttribute("data-range") === range));
        });
        setStatus(root, "");
      })
      .catch(function (error) {
        root.setAttribute("data-state", "error");
        setStatus(root, "The charts could not be loaded: " + error.message, true);
      });
  }

  function start() {
    var root = document.getElementById("charts");
    if (!root || typeof uPlot === "undefined") return;
    window.GSCharts = state;
    root.querySelectorAll(".range-toggle button").forEach(function (button) {
      button.addEventListener("click", function () { load(root, button.getAttribute("data-range")); });
    });
    var resizing;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(function () {
        Object.keys(state.plots).forEach(function (k) {
          var plot = state.plots[k];
          plot.setSize({ width: width(plot.root.parentNode), height: HEIGHT });
        });
      }, 150);
    });
    /* Axis and grid colours come from the dashboard's CSS variables: redraw when the theme
       changes, by the system's preference or by a class or attribute on <html>. */
    function redraw() { if (state.data) draw(root, state.data); }
    var scheme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)");
    if (scheme && scheme.addEventListener) scheme.addEventListener("change", redraw);
    if (window.MutationObserver) {
      new MutationObserver(redraw).observe(document.documentElement, { attributes: true, attributeFilter: ["class", "data-theme"] });
    }
    load(root, state.range);
    state.timer = setInterval(function () {
      if (!document.hidden) load(root, state.range);
    }, REFRESH_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
