/*
 * ECharts glue for dashboards (load after vendor/echarts.min.js, only on pages with charts).
 *
 *   <figure class="chart-figure">
 *     <figcaption class="chart-figure__title">…</figcaption>
 *     <div class="chart" hidden role="img" aria-label="…" data-chart='{{ option|tojson }}'></div>
 *     <details class="chart-data" open><summary>数据表</summary><table class="table">…</table></details>
 *   </figure>
 *
 * `data-chart` holds a plain ECharts option built on the server. Without JavaScript the data
 * table is the content; with it, the chart is shown and the table folds away (still there).
 * Colours and fonts come from the design tokens in app.css (--chart-1…6, --font-sans).
 */
(function () {
  "use strict";
  if (typeof window.echarts === "undefined") return;

  function token(name, fallback) {
    var value = getComputedStyle(document.body).getPropertyValue(name).trim();
    return value || fallback;
  }

  function theme() {
    var text = token("--color-text-soft", "#4b5565");
    var muted = token("--color-text-muted", "#667085");
    var border = token("--color-border", "#e2e7ee");
    var axis = {
      axisLine: { lineStyle: { color: border } },
      axisTick: { show: false },
      axisLabel: { color: muted },
      splitLine: { lineStyle: { color: border, type: "dashed" } }
    };
    return {
      color: [1, 2, 3, 4, 5, 6].map(function (i) { return token("--chart-" + i, "#1d4ed8"); }),
      textStyle: { fontFamily: token("--font-sans", "sans-serif"), color: text },
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      // One scrolling line: a wrapped legend would run into the plot below it.
      legend: { type: "scroll", top: 0, left: 0, icon: "roundRect", itemWidth: 12, itemHeight: 8, textStyle: { color: text } },
      tooltip: { trigger: "axis", confine: true, borderColor: border, textStyle: { color: text } },
      categoryAxis: axis,
      valueAxis: axis
    };
  }

  function withDefaults(option, defaults) {
    var merged = Object.assign({}, option);
    ["color", "textStyle", "grid", "legend", "tooltip"].forEach(function (key) {
      if (merged[key] === undefined) merged[key] = defaults[key];
      else if (typeof merged[key] === "object" && !Array.isArray(merged[key])) {
        merged[key] = Object.assign({}, defaults[key], merged[key]);
      }
    });
    ["xAxis", "yAxis"].forEach(function (key) {
      if (!merged[key]) return;
      var axes = Array.isArray(merged[key]) ? merged[key] : [merged[key]];
      merged[key] = axes.map(function (ax) {
        var base = ax.type === "category" ? defaults.categoryAxis : defaults.valueAxis;
        return Object.assign({}, base, ax);
      });
    });
    return merged;
  }

  var observer = "ResizeObserver" in window
    ? new ResizeObserver(function (entries) {
        entries.forEach(function (entry) {
          var chart = window.echarts.getInstanceByDom(entry.target);
          if (chart) chart.resize();
        });
      })
    : null;

  function render(root) {
    var defaults = theme();
    var nodes = (root || document).querySelectorAll("[data-chart]");
    Array.prototype.forEach.call(nodes, function (el) {
      if (window.echarts.getInstanceByDom(el)) return;
      var option;
      try {
        option = JSON.parse(el.getAttribute("data-chart"));
      } catch (err) {
        return; // leave the data table as the content
      }
      el.hidden = false;
      var chart = window.echarts.init(el, null, { renderer: "svg", locale: "ZH" });
      chart.setOption(withDefaults(option, defaults));
      if (observer) observer.observe(el);
      var figure = el.closest(".chart-figure");
      var table = figure && figure.querySelector("details.chart-data");
      if (table) table.open = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () { render(document); });
  // Content swapped in by htmx.
  document.addEventListener("htmx:load", function (event) { render(event.target); });
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var chart = window.echarts.getInstanceByDom(event.target);
    if (chart) {
      if (observer) observer.unobserve(event.target);
      chart.dispose();
    }
  });
})();
