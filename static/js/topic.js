/* A topic's page for staff: move it along the workflow, handle it, watch its deadlines,
   and see (and merge) the open topics that say the same thing. */
"use strict";
(function () {
  const { api, showErrors, t, el } = window.MSY;
  const topicUrl = "/api/staff/topics/" + (document.querySelector("[data-topic]") || { dataset: {} }).dataset.topic;

  /* A form posting JSON built by `body(form, submitter)`; the page reloads on success. */
  function wire(id, path, body) {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await api("POST", topicUrl + path, body(form, event.submitter));
      if (!result.ok) return showErrors(form, result);
      location.reload();
    });
  }
  wire("contact-form", "/contact", (f) => ({ method: f.elements.method.value, note: f.elements.note.value }));
  wire("progress-form", "/progress", (f) => ({ note: f.elements.note.value, public: f.elements.public.checked }));
  wire("pause-form", "/pause", (f) => ({ reason: f.elements.reason.value }));
  wire("resume-form", "/resume", () => ({}));
  wire("extension-form", "/extensions", (f) => ({ days: Number(f.elements.days.value), reason: f.elements.reason.value }));
  document.querySelectorAll(".decide-form").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { approve: event.submitter && event.submitter.value === "1", note: form.elements.note.value };
      const result = await api("POST", topicUrl + "/extensions/" + form.dataset.extension + "/decision", body);
      if (!result.ok) return showErrors(form, result);
      location.reload();
    });
  });

  const resolve = document.getElementById("resolve-form");
  if (resolve) {
    resolve.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(resolve);
      data.set("version", resolve.dataset.version);
      const result = await api("POST", topicUrl + "/resolve", data);
      if (!result.ok) return showErrors(resolve, result);
      location.reload();
    });
  }

  const similar = document.getElementById("similar");
  async function loadSimilar() {
    const state = document.getElementById("similar-state");
    const list = similar.querySelector(".similar-list");
    const result = await api("GET", topicUrl + "/similar");
    if (!result.ok) { state.textContent = t("similar.failed"); return; }
    list.replaceChildren();
    state.textContent = result.data.similar.length ? "" : t("similar.none");
    for (const match of result.data.similar) {
      const other = match.topic;
      const item = el("li", { "data-id": other.id },
        el("a", { href: "/staff/topics/" + other.id }, el("code", {}, other.number)), " ", other.title,
        el("small", {}, " · " + other.room.name + " · " + t("status." + other.status) + " · " + Math.round(match.score * 100) + "%"),
        el("div", { class: "muted" }, t("similar.shared") + "：", ...match.shared.map((w) => el("mark", {}, w))));
      if (similar.dataset.canMerge === "1") {
        const button = el("button", { type: "button", class: "merge" }, t("similar.merge_into", { number: other.number }));
        button.addEventListener("click", async () => {
          if (!confirm(t("similar.confirm", { number: other.number }))) return;
          const merged = await api("POST", topicUrl + "/merge", { into_id: other.id, version: Number(similar.dataset.version) });
          if (!merged.ok) return showErrors(similar, merged);
          location.reload();
        });
        item.append(" ", button);
      }
      list.append(item);
    }
  }
  if (similar) loadSimilar();

  const route = document.getElementById("route-form");
  if (route) {
    route.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { version: Number(route.dataset.version), unit_id: Number(route.elements.unit_id.value) };
      const result = await api("POST", "/api/staff/topics/" + route.dataset.topic + "/route", body);
      if (!result.ok) return showErrors(route, result);
      location.reload();
    });
  }
  const classify = document.getElementById("classify-form");
  if (classify) {
    classify.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { version: Number(classify.dataset.version), category: classify.elements.category.value, subject: classify.elements.subject.value };
      const result = await api("POST", "/api/staff/topics/" + classify.dataset.topic + "/classification", body);
      if (!result.ok) return showErrors(classify, result);
      location.reload();
    });
  }
  const form = document.getElementById("move-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const to = event.submitter ? event.submitter.value : "";
    const body = { to, version: Number(form.dataset.version), note: form.elements.note.value };
    if (to === "escalated" && form.elements.lead) {
      body.lead = form.elements.lead.value;
      if (form.elements.unit_id.value) body.unit_id = Number(form.elements.unit_id.value);
    }
    const result = await api("POST", "/api/staff/topics/" + form.dataset.topic + "/moves", body);
    if (!result.ok) return showErrors(form, result);
    location.reload();
  });
})();
