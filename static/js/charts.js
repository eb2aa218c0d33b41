// Dashboard and report charts (Chart.js). Data comes from json_script blocks or a JSON URL on the
// canvas, never from inline scripts (CSP). Pages stay readable without JavaScript: figures and
// tables are server-rendered; charts are the picture on top.
(() => {
  "use strict";

  const CHANNEL_COLORS = {
    email: "#0e7090", push: "#c11574", sms: "#175cd3", whatsapp: "#067647",
    telegram: "#0ea5e9", voice: "#6927da", social: "#f79009",
  };
  const STATUS_COLORS = {
    draft: "#98a2b3", scheduled: "#175cd3", active: "#12b76a", paused: "#f79009",
    completed: "#475467", cancelled: "#d0d5dd", failed: "#f04438",
  };
  const STAGE_COLORS = {
    sent: "#175cd3", delivered: "#12b76a", read: "#6927da", clicked: "#c11574", replied: "#f79009",
  };
  const PALETTE = ["#4f46e5", "#12b76a", "#f79009", "#c11574", "#0e7090", "#6927da", "#f04438"];

  const charts = {};

  function readJson(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function baseOptions(extra) {
    return Object.assign({
      responsive: true,
      maintainAspectRatio: false,
      animation: { duration: 300 },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12, usePointStyle: true } } },
    }, extra || {});
  }

  const builders = {
    doughnut(data) {
      return {
        type: "doughnut",
        data: {
          labels: data.labels,
          datasets: [{ data: data.values, backgroundColor: data.keys.map((k, i) => STATUS_COLORS[k] || PALETTE[i % PALETTE.length]), borderWidth: 2 }],
        },
        options: baseOptions({ cutout: "62%", plugins: { legend: { position: "right" } } }),
      };
    },
    bar(data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [{ label: "Campaigns", data: data.values, backgroundColor: data.keys.map((k) => CHANNEL_COLORS[k] || PALETTE[0]), borderRadius: 6, maxBarThickness: 48 }],
        },
        options: baseOptions({ plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }),
      };
    },
    daily(data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.series.map((s) => ({ label: s.label, data: s.values, backgroundColor: CHANNEL_COLORS[s.key] || PALETTE[0], stack: "sent" })),
        },
        options: baseOptions({
          scales: {
            x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 } },
            y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
          },
        }),
      };
    },
    funnel(data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [{ label: "Messages", data: data.values, backgroundColor: Object.values(STAGE_COLORS), borderRadius: 6 }],
        },
        options: baseOptions({ indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }),
      };
    },
    events(data) {
      return {
        type: "line",
        data: {
          labels: data.labels,
          datasets: data.series.map((s) => ({
            label: s.label, data: s.values, borderColor: STAGE_COLORS[s.key], backgroundColor: STAGE_COLORS[s.key],
            tension: 0.25, pointRadius: data.labels.length > 48 ? 0 : 2, fill: false,
          })),
        },
        options: baseOptions({
          interaction: { mode: "index", intersect: false },
          scales: {
            x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } },
            y: { beginAtZero: true, ticks: { precision: 0 } },
          },
        }),
      };
    },
  };

  function draw(canvas, data) {
    const kind = canvas.dataset.chart;
    if (charts[canvas.id]) charts[canvas.id].destroy();
    const empty = canvas.closest(".card")?.querySelector(".chart-empty");
    const hasData = data && data.labels && data.labels.length && (data.values || data.series.length);
    if (empty) empty.hidden = Boolean(hasData);
    canvas.parentElement.hidden = !hasData;
    if (!hasData) return;
    charts[canvas.id] = new window.Chart(canvas, builders[kind](data));
  }

  function init() {
    if (!window.Chart) return;
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.color = "#475467";
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      if (canvas.dataset.source) {
        draw(canvas, readJson(canvas.dataset.source));
      } else if (canvas.dataset.url) {
        fetch(canvas.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then((r) => (r.ok ? r.json() : null))
          .then((data) => draw(canvas, data));
      }
    });
  }

  // Range tabs: fetch the charts for the new range instead of reloading the page; the links
  // still work as plain links without JavaScript.
  document.addEventListener("click", (event) => {
    const tab = event.target.closest("a[data-range]");
    if (!tab || !window.Chart) return;
    event.preventDefault();
    fetch(tab.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => {
        draw(document.getElementById("chart-daily"), data.daily);
        draw(document.getElementById("chart-funnel"), data.funnel);
        tab.parentElement.querySelectorAll("a").forEach((a) => a.removeAttribute("aria-current"));
        tab.setAttribute("aria-current", "page");
        document.querySelectorAll("[data-range-days]").forEach((n) => { n.textContent = tab.dataset.range; });
        const empty = document.querySelector("#chart-daily")?.closest(".card")?.querySelector(".chart-empty");
        if (empty) empty.textContent = `Nothing sent in the last ${tab.dataset.range} days.`;
        history.replaceState(null, "", tab.href);
      })
      .catch(() => { window.location.href = tab.href; });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
