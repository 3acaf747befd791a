/* The sessions block on a room's page and on a topic's tracking page: announced sessions,
   fetched from the deliberations API (the topics pages know nothing of sessions). */
"use strict";
(function () {
  const { t, api, el } = window.MSY;

  function when(startsAt, endsAt) {
    const opts = { timeZone: "Asia/Shanghai", hour12: false };
    const day = (d) => d.toLocaleDateString("zh-CN", { ...opts, year: "numeric", month: "2-digit", day: "2-digit" });
    const time = (d) => d.toLocaleTimeString("zh-CN", { ...opts, hour: "2-digit", minute: "2-digit" });
    const s = new Date(startsAt), e = new Date(endsAt);
    return day(s) + " " + time(s) + "–" + (day(s) === day(e) ? "" : day(e) + " ") + time(e);
  }

  function item(d) {
    const li = el("li", { class: "delib-item" },
      el("a", { href: "/d/" + d.id }, el("strong", {}, d.title)), " ",
      el("span", { class: "status delib-status-" + d.status }, t("delib.status." + d.status)),
      el("div", { class: "muted" }, when(d.starts_at, d.ends_at) + " · " + d.room.name + " · " + d.place));
    if (d.status === "cancelled" && d.cancel_reason) {
      li.append(el("div", { class: "small" }, t("delib.cancelled_because", { reason: d.cancel_reason })));
    } else if (d.open_for_signup) {
      li.append(el("div", { class: "small" }, d.seats_left ? t("delib.seats_left", { n: d.seats_left }) : t("delib.full", { n: d.waitlist })));
    }
    if (d.watch_url) li.append(el("div", {}, el("a", { href: "/watch/" + d.id }, t("delib.watch"))));
    if (d.recording) li.append(el("div", {}, el("a", { href: d.recording }, t("delib.recording"))));
    return li;
  }

  document.querySelectorAll("[data-deliberations-src]").forEach(async (block) => {
    const result = await api("GET", block.dataset.deliberationsSrc);
    if (!result.ok) return;
    const items = result.data.deliberations;
    const list = block.querySelector(".delib-items");
    const none = block.querySelector(".delib-none");
    list.replaceChildren(...items.map(item));
    if (none) none.hidden = items.length > 0;
    if (block.hasAttribute("data-hide-empty")) block.hidden = items.length === 0;
  });
})();
