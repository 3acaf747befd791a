/* The host console's attendance card: who signed up, by kind, and check-in by scanned
   code or from the list (the same staff API as the session page). Refreshed after each
   check-in and every 30 s, so several hosts at the door see each other's work. */
"use strict";
(function () {
  const { t, api, errorText, el } = window.MSY;
  const root = document.getElementById("live");
  const card = document.getElementById("attendance-card");
  if (!root || !card) return;
  const url = "/api/staff/deliberations/" + root.dataset.deliberation;
  const result = document.getElementById("host-checkin-result");
  const error = card.querySelector(".card-error");
  const when = (iso) => new Date(iso).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });

  function explain(res) {
    const err = (res.data && res.data.error) || {};
    const fields = err.fields || {};
    if (fields.checked_in_at) return t("delib.checkin.already", { at: when(fields.checked_in_at) });
    if (err.code === "not_found") return t("delib.checkin.unknown");
    if (err.code === "conflict" && fields.status) return t("delib.checkin.no_seat", { status: t("delib.reg." + fields.status) });
    return errorText(res);
  }

  function render(data) {
    const c = data.counts;
    document.getElementById("attendance-counts").textContent = t("delib.attendance_counts", {
      registered: c.registered, capacity: data.capacity, waitlisted: c.waitlisted, checked_in: c.checked_in,
    });
    document.getElementById("attendance-kinds").textContent = Object.entries(data.by_kind)
      .map(([kind, n]) => t("delib.kind." + kind) + " " + n.checked_in + "/" + n.registered).join("　");
    const list = document.getElementById("attendees");
    list.replaceChildren(...data.attendees.filter((a) => a.status !== "cancelled").map((a) => {
      const button = el("button", { type: "button" }, t("delib.checkin.button"));
      button.disabled = Boolean(a.checked_in_at) || a.status !== "registered";
      button.addEventListener("click", () => checkIn({ registration_id: a.id }));
      return el("li", { class: a.checked_in_at ? "checked-in" : "" },
        el("span", {}, a.name), " ", el("span", { class: "muted" }, t("delib.kind." + a.kind) + " · " + t("delib.reg." + a.status)),
        " ", a.checked_in_at ? el("span", { class: "muted" }, "✓ " + when(a.checked_in_at)) : button);
    }));
  }

  async function load() {
    const res = await api("GET", url + "/registrations");
    if (res.ok) { error.textContent = ""; render(res.data); } else error.textContent = errorText(res);
  }

  async function checkIn(body) {
    const res = await api("POST", url + "/checkins", body);
    result.textContent = res.ok ? t("delib.checkin.done", { name: res.data.name, at: when(res.data.checked_in_at) }) : explain(res);
    await load();
    return res.ok;
  }

  document.getElementById("host-checkin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("host-checkin-token");
    if (await checkIn({ token: input.value.trim() })) input.value = "";
  });
  load();
  setInterval(load, 30000);
})();
