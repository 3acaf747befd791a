/* The statistics dashboard (数据大屏): ECharts panels fed by snapshots that the server
   pushes over socket.io (/dashboard) when the figures change, or, without a socket,
   polled from /api/dashboard. Clicking a region shows its subtree everywhere. */
"use strict";
(function () {
  const { t, el, api } = window.MSY;
  const root = document.getElementById("dashboard");
  const POLL_MS = 15000;
  const COLORS = ["#4fc3f7", "#81c784", "#ffb74d", "#e57373", "#ba68c8", "#4db6ac", "#fff176", "#90a4ae", "#f06292", "#aed581"];
  let region = root.dataset.region ? Number(root.dataset.region) : null;
  let socket = null;
  let pollTimer = null;
  let shownVersion = null;

  const charts = {};
  for (const name of ["trend", "regions", "categories", "subjects", "satisfaction"]) {
    charts[name] = echarts.init(document.getElementById("chart-" + name), null, { renderer: "canvas" });
  }
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  charts.regions.on("click", (params) => {
    const id = params.data && params.data.regionId;
    if (id) drill(id);
  });

  const label = (prefix, key) => {
    if (key === "unclassified") return t("statistics.unclassified");
    const text = t(prefix + "." + key);
    return text === prefix + "." + key ? key : text;
  };
  const percent = (rate) => (rate === null || rate === undefined ? "–" : (rate * 100).toFixed(1) + "%");
  const axis = { axisLabel: { color: "#b0bec5" }, axisLine: { lineStyle: { color: "#546e7a" } }, splitLine: { lineStyle: { color: "#263238" } } };
  const textStyle = { color: "#cfd8dc" };

  function setState(kind) {
    const node = document.getElementById("live-state");
    node.className = "state-" + kind;
    node.textContent = t({ live: "dashboard.live", polling: "dashboard.polling", connecting: "dashboard.connecting" }[kind]);
  }

  function render(snap) {
    if ((snap.region ? snap.region.id : null) !== region && region !== null) return;
    shownVersion = snap.version;
    root.dataset.version = snap.version;
    for (const [key, value] of Object.entries(snap.figures)) {
      const node = document.getElementById("fig-" + key);
      if (node) node.textContent = Number(value).toLocaleString();
    }
    document.getElementById("updated").textContent = t("dashboard.updated", { time: new Date(snap.generated_at).toLocaleTimeString() });
    crumbs(snap);
    children(snap);

    charts.trend.setOption({
      color: COLORS, textStyle, tooltip: { trigger: "axis" },
      legend: { textStyle, top: 0 },
      grid: { containLabel: true, left: 8, right: 16, top: 36, bottom: 8 },
      xAxis: { type: "category", data: snap.trend.months, ...axis },
      yAxis: { type: "value", minInterval: 1, ...axis },
      series: ["received", "resolved", "sessions"].map((s) => ({
        name: t("dashboard.series." + s), type: s === "sessions" ? "bar" : "line", data: snap.trend[s],
      })),
    }, true);

    charts.categories.setOption({
      color: COLORS, textStyle, tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["40%", "70%"], label: { color: "#cfd8dc" },
        data: snap.categories.map((c) => ({ name: label("category", c.category), value: c.topics })) }],
    }, true);

    charts.subjects.setOption({
      color: COLORS, textStyle, tooltip: { trigger: "axis" },
      grid: { containLabel: true, left: 8, right: 16, top: 8, bottom: 8 },
      xAxis: { type: "value", minInterval: 1, ...axis },
      yAxis: { type: "category", inverse: true, data: snap.subjects.map((s) => label("subject", s.subject)), ...axis },
      series: [{ type: "bar", data: snap.subjects.map((s) => s.topics) }],
    }, true);

    charts.regions.setOption({
      color: COLORS, textStyle, tooltip: { trigger: "axis" },
      legend: { textStyle, top: 0 },
      grid: { containLabel: true, left: 8, right: 16, top: 36, bottom: 8 },
      xAxis: { type: "category", data: snap.children.map((c) => c.name), ...axis, axisLabel: { color: "#b0bec5", interval: 0, rotate: snap.children.length > 6 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1, ...axis },
      series: [
        { name: t("dashboard.region.topics"), type: "bar", data: snap.children.map((c) => ({ value: c.topics, regionId: c.id })) },
        { name: t("dashboard.region.resolved"), type: "bar", data: snap.children.map((c) => ({ value: c.resolved, regionId: c.id })) },
      ],
    }, true);

    const sat = snap.satisfaction;
    document.getElementById("sat-rate").textContent = percent(sat.rate);
    document.getElementById("sat-counts").textContent = sat.total
      ? t("dashboard.satisfaction.counts", { s: sat.satisfied, b: sat.basically_satisfied, u: sat.unsatisfied, n: sat.total })
      : t("dashboard.satisfaction.none");
    charts.satisfaction.setOption({
      color: ["#81c784", "#4fc3f7", "#e57373"], textStyle, tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: "70%", label: { color: "#cfd8dc" },
        data: ["satisfied", "basically_satisfied", "unsatisfied"].map((k) => ({ name: t("dashboard.verdict." + k), value: sat[k] })) }],
    }, true);

    document.getElementById("overdue-deadlines").textContent = snap.overdue.deadlines;
    document.getElementById("overdue-outcomes").textContent = snap.overdue.outcomes;
    document.getElementById("near-outcomes").textContent = snap.overdue.outcome_flags.near;

    const list = document.getElementById("live-list");
    list.replaceChildren(...snap.live.map((s) => el("li", {},
      el("a", { href: s.url }, s.title), " ", el("span", { class: "muted" }, s.room))));
    document.getElementById("live-none").hidden = snap.live.length > 0;
  }

  function crumbs(snap) {
    const nav = document.getElementById("crumbs");
    const items = snap.breadcrumbs.length ? snap.breadcrumbs : [{ id: null, name: t("dashboard.whole") }];
    nav.replaceChildren(...items.flatMap((r, i) => {
      const last = i === items.length - 1;
      const node = last ? el("span", { class: "current", "aria-current": "page" }, r.name)
        : el("a", { href: r.id ? "?region=" + r.id : "?", "data-region": r.id ?? "" }, r.name);
      if (!last) node.addEventListener("click", (e) => { e.preventDefault(); drill(r.id); });
      return i ? [el("span", { class: "sep" }, " › "), node] : [node];
    }));
  }

  function children(snap) {
    const ul = document.getElementById("children");
    ul.replaceChildren(...snap.children.map((c) => {
      const a = el("a", { href: "?region=" + c.id, "data-region": c.id }, c.name);
      a.addEventListener("click", (e) => { e.preventDefault(); drill(c.id); });
      return el("li", {}, a, " ",
        el("span", { class: "muted" }, `${t("dashboard.region.topics")} ${c.topics} · ${t("dashboard.region.resolved")} ${c.resolved} · ${t("dashboard.region.sessions")} ${c.sessions} · ${t("dashboard.region.satisfaction")} ${percent(c.satisfaction.rate)} (${c.satisfaction.total})`));
    }));
  }

  function drill(id) {
    region = id || null;
    const url = new URL(location.href);
    if (region) url.searchParams.set("region", region); else url.searchParams.delete("region");
    history.pushState({ region }, "", url);
    refresh();
  }
  window.addEventListener("popstate", (e) => { region = (e.state && e.state.region) || null; refresh(); });

  async function poll() {
    const result = await api("GET", "/api/dashboard" + (region ? "?region=" + region : ""));
    if (result.ok) render(result.data);
  }

  function watch() {
    socket.emit("dashboard", { op: "watch", region }, (ack) => {
      if (ack && ack.ok) render(ack.snapshot); else poll();
    });
  }

  function refresh() {
    if (socket && socket.connected) watch(); else poll();
  }

  function startPolling() {
    setState("polling");
    if (!pollTimer) pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  poll();
  if (typeof io === "function") {
    socket = io("/dashboard", { transports: ["websocket"] });
    socket.on("connect", () => { stopPolling(); setState("live"); watch(); });
    socket.on("disconnect", startPolling);
    socket.on("connect_error", startPolling);
    socket.on("dashboard", (msg) => {
      if (msg && msg.op === "snapshot" && msg.snapshot.version !== shownVersion) render(msg.snapshot);
    });
  } else {
    startPolling();
  }
})();
