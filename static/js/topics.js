/* The dispatcher's list of incoming topics, kept live over socket.io (/staff namespace). */
"use strict";
(function () {
  const { t, api, el } = window.MSY;
  const body = document.querySelector("#topics tbody");
  const filters = document.getElementById("topic-filters");
  const more = document.getElementById("more");
  const total = document.getElementById("total");
  const live = document.getElementById("live");
  let nextBefore = null;
  let count = 0;

  function query(before) {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(filters).entries()) if (v) params.set(k, v);
    if (before) params.set("before_id", before);
    return params;
  }

  function matches(topic) {
    const f = Object.fromEntries(new FormData(filters).entries());
    if (f.status && topic.status !== f.status) return false;
    if (f.kind && topic.kind !== f.kind) return false;
    if (f.category && topic.category !== f.category) return false;
    if (f.q && !(topic.title.includes(f.q) || topic.number === f.q.toUpperCase())) return false;
    return true;  // region filtering needs the tree; a reload applies it exactly
  }

  function row(topic, fresh) {
    const when = new Date(topic.created_at);
    const tr = el("tr", { "data-id": topic.id, class: fresh ? "fresh" : "" },
      el("td", {}, el("a", { href: "/staff/topics/" + topic.id }, el("code", {}, topic.number))),
      el("td", {}, topic.title, topic.photo_count ? el("small", { class: "photo-count" }, " " + t("topic.photo") + "×" + topic.photo_count) : ""),
      el("td", {}, topic.room.name),
      el("td", {}, t("topic.kind." + topic.kind), topic.category ? el("small", {}, " · " + t("category." + topic.category)) : ""),
      el("td", {}, t("source." + topic.source)),
      el("td", {}, el("span", { class: "status status-" + topic.status }, t("status." + topic.status))),
      el("td", {}, [topic.submitter.name, topic.submitter.phone].filter(Boolean).join(" ")),
      el("td", {}, when.toLocaleString(document.documentElement.lang)));
    return tr;
  }

  async function load(append) {
    const result = await api("GET", "/api/staff/topics?" + query(append ? nextBefore : null));
    if (!result.ok) return;
    if (!append) body.replaceChildren();
    for (const topic of result.data.topics) body.append(row(topic, false));
    nextBefore = result.data.next_before_id;
    more.hidden = !nextBefore;
    count = result.data.total;
    total.textContent = "(" + count + ")";
  }

  filters.addEventListener("change", () => load(false));
  filters.addEventListener("submit", (event) => { event.preventDefault(); load(false); });
  more.addEventListener("click", () => load(true));
  load(false);

  const socket = io("/staff", { transports: ["websocket"] });
  socket.on("connect", () => { live.classList.add("on"); load(false); });
  socket.on("disconnect", () => live.classList.remove("on"));
  socket.on("topic", (event) => {
    if (event.op !== "submitted" || !matches(event.topic)) return;
    if (body.querySelector('tr[data-id="' + event.topic.id + '"]')) return;
    body.prepend(row(event.topic, true));
    count += 1;
    total.textContent = "(" + count + ")";
  });
})();
