/* The dispatcher's list of incoming topics, kept live over socket.io (/staff namespace).
   Dispatchers also tick topics and send them to a unit at once (批量派单). */
"use strict";
(function () {
  const { t, api, el, errorText } = window.MSY;
  const table = document.getElementById("topics");
  const body = table.querySelector("tbody");
  const filters = document.getElementById("topic-filters");
  const more = document.getElementById("more");
  const total = document.getElementById("total");
  const live = document.getElementById("live");
  const bulk = table.dataset.bulk ? document.getElementById("bulk-form") : null;
  const known = new Map();  // topic id -> the latest topic JSON shown
  const selected = new Set();  // ids of ticked topics; survives reloads of the list
  const unitNames = new Map();
  let nextBefore = null;
  let count = 0;
  let generation = 0;  // bumped by each fresh load: answers to older queries are dropped

  function query(before) {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(filters).entries()) if (v) params.set(k, v);
    if (before) params.set("before_id", before);
    return params;
  }

  /* Red when overdue, yellow when near, grey while paused; the due time on hover. */
  function deadlineBadge(deadline) {
    if (!deadline || !deadline.flag || deadline.flag === "ok") return "";
    const due = new Date(deadline.due_at).toLocaleString(document.documentElement.lang);
    return el("span", { class: "flag flag-" + deadline.flag, title: t("deadline.due") + " " + due }, " " + t("flag." + deadline.flag));
  }

  function matches(topic) {
    const f = Object.fromEntries(new FormData(filters).entries());
    if (f.flag) return false;  // deadlines are not in a live event; a reload applies the filter
    if (f.subject && topic.classification.subject !== f.subject) return false;
    if (f.status && topic.status !== f.status) return false;
    if (f.kind && topic.kind !== f.kind) return false;
    if (f.category && topic.category !== f.category) return false;
    if (f.q && !(topic.title.includes(f.q) || topic.number === f.q.toUpperCase())) return false;
    return true;  // region filtering needs the tree; a reload applies it exactly
  }

  function row(topic, fresh) {
    known.set(topic.id, topic);
    const when = new Date(topic.created_at);
    const unit = topic.unit_id && unitNames.get(topic.unit_id);
    const cells = [
      el("td", {}, el("a", { href: "/staff/topics/" + topic.id }, el("code", {}, topic.number))),
      el("td", {}, topic.title, topic.photo_count ? el("small", { class: "photo-count" }, " " + t("topic.photo") + "×" + topic.photo_count) : ""),
      el("td", {}, topic.room.name),
      el("td", {}, t("topic.kind." + topic.kind), topic.category ? el("small", {}, " · " + t("category." + topic.category)) : ""),
      el("td", {}, t("source." + topic.source)),
      el("td", { class: "status-cell" }, el("span", { class: "status status-" + topic.status }, t("status." + topic.status)),
        unit ? el("small", { class: "unit" }, " → " + unit) : "",
        deadlineBadge(topic.deadline)),
      el("td", {}, [topic.submitter.name, topic.submitter.phone].filter(Boolean).join(" ")),
      el("td", {}, when.toLocaleString(document.documentElement.lang)),
    ];
    if (bulk) {
      const box = el("input", { type: "checkbox", class: "pick", value: topic.id,
        "aria-label": t("bulk.select", { number: topic.number }) });
      box.checked = selected.has(topic.id);
      cells.unshift(el("td", {}, box));
    }
    return el("tr", { "data-id": topic.id, class: fresh ? "fresh" : "" }, ...cells);
  }

  /* A newer version of a listed topic (a move seen live, or a dispatch result) replaces its row. */
  function refresh(topic, force) {
    const current = body.querySelector('tr[data-id="' + topic.id + '"]');
    if (!current) return null;
    const shown = known.get(topic.id);
    if (shown && (shown.version > topic.version || (shown.version === topic.version && !force))) return current;
    const next = row(topic, false);
    current.replaceWith(next);
    return next;
  }

  async function load(append) {
    const mine = append ? generation : ++generation;
    const result = await api("GET", "/api/staff/topics?" + query(append ? nextBefore : null));
    if (!result.ok || mine !== generation) return;
    if (!append) body.replaceChildren();
    for (const topic of result.data.topics) body.append(row(topic, false));
    nextBefore = result.data.next_before_id;
    more.hidden = !nextBefore;
    count = result.data.total;
    total.textContent = "(" + count + ")";
    syncSelection();
  }

  filters.addEventListener("change", () => load(false));
  filters.addEventListener("submit", (event) => { event.preventDefault(); load(false); });
  more.addEventListener("click", () => load(true));

  // --- bulk dispatch --------------------------------------------------------------------------

  const selectAll = document.getElementById("select-all");
  const unitSelect = document.getElementById("bulk-unit");
  const submit = document.getElementById("bulk-submit");
  const countLabel = document.getElementById("bulk-count");
  const resultBox = document.getElementById("bulk-result");

  /* Only ticked rows that are on screen are sent; the header box reflects them. */
  function syncSelection() {
    if (!bulk) return;
    const boxes = [...body.querySelectorAll("input.pick")];
    const onScreen = new Set(boxes.map((b) => Number(b.value)));
    for (const id of [...selected]) if (!onScreen.has(id)) selected.delete(id);
    for (const box of boxes) box.checked = selected.has(Number(box.value));
    const ticked = boxes.filter((b) => b.checked).length;
    selectAll.checked = ticked > 0 && ticked === boxes.length;
    selectAll.indeterminate = ticked > 0 && ticked < boxes.length;
    countLabel.textContent = t("bulk.selected", { n: selected.size });
    submit.disabled = selected.size === 0 || bulk.classList.contains("busy");
  }

  async function loadUnits() {
    const result = await api("GET", "/api/staff/units");
    if (!result.ok) return;
    const groups = new Map();
    for (const unit of result.data.units) {
      unitNames.set(unit.id, unit.name);
      if (!groups.has(unit.kind)) groups.set(unit.kind, el("optgroup", { label: t("unit." + unit.kind) }));
      groups.get(unit.kind).append(el("option", { value: unit.id }, unit.name));
    }
    for (const kind of ["relay", "town", "department"]) if (groups.has(kind)) unitSelect.append(groups.get(kind));
    for (const group of groups.values()) if (!group.parentNode) unitSelect.append(group);
    for (const topic of [...known.values()]) if (topic.unit_id) refresh(topic, true);
  }

  function errorMessage(code, topic) {
    const key = "bulk.error." + code;
    const status = topic ? t("status." + topic.status) : "";
    return t(key, { status }) !== key ? t(key, { status }) : t("bulk.error.other", { code });
  }

  function report(results) {
    const ok = results.filter((r) => r.ok);
    const list = el("ul", { id: "bulk-results" });
    for (const r of results) {
      const before = known.get(r.id);
      const number = (r.topic || before || {}).number || "#" + r.id;
      const status = r.ok ? t("status." + r.topic.status) : "";
      const unit = r.ok ? unitNames.get(r.topic.unit_id) : "";
      const text = r.ok ? (unit ? t("bulk.result_ok", { status, unit }) : status) : errorMessage(r.error, before);
      list.append(el("li", { "data-id": r.id, class: r.ok ? "ok" : "failed" },
        el("code", {}, number), " ", r.ok ? text : el("span", { class: "form-error" }, text)));
    }
    resultBox.replaceChildren(
      el("p", {}, el("strong", {}, t("bulk.done", { ok: ok.length, failed: results.length - ok.length }))), list);
    resultBox.hidden = false;
  }

  if (bulk) {
    body.addEventListener("change", (event) => {
      if (!event.target.matches("input.pick")) return;
      const id = Number(event.target.value);
      if (event.target.checked) selected.add(id); else selected.delete(id);
      syncSelection();
    });
    selectAll.addEventListener("change", () => {
      for (const box of body.querySelectorAll("input.pick")) {
        box.checked = selectAll.checked;
        if (box.checked) selected.add(Number(box.value)); else selected.delete(Number(box.value));
      }
      syncSelection();
    });
    bulk.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = bulk.querySelector(".form-error");
      error.textContent = "";
      const topics = [...selected].map((id) => ({ id, version: known.get(id).version }));
      if (!topics.length) { error.textContent = t("bulk.none"); return; }
      const payload = { topics };
      if (unitSelect.value) payload.unit_id = Number(unitSelect.value);
      bulk.classList.add("busy");
      submit.disabled = true;
      submit.textContent = t("bulk.working");
      const result = await api("POST", "/api/staff/topics/route", payload);
      bulk.classList.remove("busy");
      submit.textContent = t("bulk.submit");
      if (!result.ok) {
        error.textContent = errorText(result);
        syncSelection();
        return;
      }
      for (const r of result.data.results) {
        if (r.ok) {
          selected.delete(r.id);
          const updated = refresh(r.topic);
          if (updated) updated.classList.add("fresh");
        }
      }
      report(result.data.results);
      syncSelection();
    });
    loadUnits();
    syncSelection();
  }

  load(false);

  // --- live -----------------------------------------------------------------------------------

  const socket = io("/staff", { transports: ["websocket"] });
  socket.on("connect", () => { live.classList.add("on"); load(false); });
  socket.on("disconnect", () => live.classList.remove("on"));
  socket.on("notification", () => {
    api("GET", "/api/staff/notifications?unread=1&limit=1").then((r) => { if (r.ok) window.MSY.setUnread(r.data.unread); });
  });
  socket.on("topic", (event) => {
    if (event.op !== "submitted") {
      refresh(event.topic);
      syncSelection();
      return;
    }
    if (!matches(event.topic)) return;
    if (body.querySelector('tr[data-id="' + event.topic.id + '"]')) return;
    body.prepend(row(event.topic, true));
    count += 1;
    total.textContent = "(" + count + ")";
    syncSelection();
  });
})();
