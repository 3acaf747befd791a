/* Staff pages for sessions: create and edit, the agenda picker, the session's moves,
   check-in, invitations; and the check-in page a host's phone opens from a QR. */
"use strict";
(function () {
  const { t, api, showErrors, clearErrors, errorText, el } = window.MSY;
  /* The refusals a host meets most, in the page's language; others as the server says. */
  function explain(result) {
    const err = (result.data && result.data.error) || {};
    const fields = err.fields || {};
    if (fields.checked_in_at) {
      const at = new Date(fields.checked_in_at).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
      return t("delib.checkin.already", { at });
    }
    if (err.code === "invalid_transition" && fields.status) return t("delib.error.invalid_transition", { status: t("delib.status." + fields.status) });
    if (err.code === "stale_update") return t("delib.error.stale_update");
    if (err.code === "conflict" && fields.status && t("delib.reg." + fields.status) !== "delib.reg." + fields.status) {
      return t("delib.checkin.no_seat", { status: t("delib.reg." + fields.status) });
    }
    return errorText(result);
  }
  function refuse(form, result) {
    showErrors(form, result);
    const general = form.querySelector(".form-error");
    if (general) general.textContent = explain(result);
  }

  const session = document.getElementById("session");
  const sessionId = session ? session.dataset.id : null;
  const version = () => Number(session.dataset.version);

  /* The agenda picker: look a number up, then order and drop the rows. */
  document.querySelectorAll(".agenda-picker").forEach((picker) => {
    const list = picker.querySelector(".agenda-list");
    const input = picker.querySelector(".agenda-number");
    const slot = picker.querySelector('.field-error[data-for="agenda"]');
    const empty = picker.querySelector(".agenda-empty");
    const max = Number(picker.dataset.max);
    const sync = () => { empty.hidden = list.children.length > 0; };

    function row(topic) {
      const tools = el("span", { class: "agenda-tools" },
        el("button", { type: "button", class: "link", "data-agenda": "up", "aria-label": t("delib.agenda.up") }, "↑"),
        el("button", { type: "button", class: "link", "data-agenda": "down", "aria-label": t("delib.agenda.down") }, "↓"),
        el("button", { type: "button", class: "link", "data-agenda": "drop" }, t("delib.agenda.drop")));
      return el("li", { "data-number": topic.number },
        el("span", { class: "number" }, topic.number), " ",
        el("span", { class: "title" }, topic.title), " ",
        el("span", { class: "status status-" + topic.status }, t("status." + topic.status)), " ", tools);
    }

    async function add() {
      slot.textContent = "";
      const number = input.value.trim().toUpperCase();
      if (!number) return;
      if (list.querySelector('li[data-number="' + CSS.escape(number) + '"]')) {
        slot.textContent = t("delib.agenda.twice", { number });
        return;
      }
      if (list.children.length >= max) {
        slot.textContent = t("delib.agenda.full", { n: max });
        return;
      }
      const result = await api("GET", "/api/staff/agenda-topics?number=" + encodeURIComponent(number));
      if (!result.ok) {
        slot.textContent = result.status === 404 ? t("delib.agenda.unknown", { number }) : errorText(result);
        return;
      }
      if (!result.data.eligible) {
        slot.textContent = t("delib.agenda.not_key", { number: result.data.number, status: t("status." + result.data.status) });
        return;
      }
      list.append(row(result.data));
      input.value = "";
      sync();
    }

    picker.querySelector(".agenda-add").addEventListener("click", add);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); add(); }
    });
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-agenda]");
      if (!button) return;
      const item = button.closest("li");
      const action = button.dataset.agenda;
      if (action === "up" && item.previousElementSibling) item.previousElementSibling.before(item);
      else if (action === "down" && item.nextElementSibling) item.nextElementSibling.after(item);
      else if (action === "drop") item.remove();
      sync();
    });
  });

  function agendaOf(form) {
    return Array.from(form.querySelectorAll(".agenda-list li[data-number]")).map((li) => li.dataset.number);
  }

  function sessionBody(form) {
    const data = new FormData(form);
    const body = {};
    for (const name of ["title", "description", "place", "starts_at", "ends_at", "moderation", "host_name", "moderators"]) {
      body[name] = String(data.get(name) || "");
    }
    const capacity = String(data.get("capacity") || "");
    body.capacity = /^\d+$/.test(capacity) ? Number(capacity) : capacity;
    return body;
  }

  async function submitting(form, work) {
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try { await work(); } finally { if (button) button.disabled = false; }
  }

  const create = document.getElementById("create-form");
  if (create) create.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(create);
    submitting(create, async () => {
      const room = String(new FormData(create).get("room_id") || "");
      const body = { ...sessionBody(create), room_id: room ? Number(room) : null, agenda: agendaOf(create) };
      const result = await api("POST", "/api/staff/deliberations", body);
      if (!result.ok) return refuse(create, result);
      location.href = "/staff/deliberations/" + result.data.id;
    });
  });

  const edit = document.getElementById("edit-form");
  if (edit) edit.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(edit);
    submitting(edit, async () => {
      const result = await api("PATCH", "/api/staff/deliberations/" + sessionId, { ...sessionBody(edit), version: version() });
      if (!result.ok) return refuse(edit, result);
      location.reload();
    });
  });

  const agenda = document.getElementById("agenda-form");
  if (agenda) agenda.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(agenda);
    submitting(agenda, async () => {
      const result = await api("PUT", "/api/staff/deliberations/" + sessionId + "/agenda", { version: version(), agenda: agendaOf(agenda) });
      if (!result.ok) return refuse(agenda, result);
      location.reload();
    });
  });

  const moves = document.getElementById("move-form");
  if (moves) moves.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(moves);
    const button = event.submitter;
    if (!button || !button.value) return;
    const body = { to: button.value, version: version() };
    if (button.value === "cancelled") {
      const reason = moves.querySelector('input[name="reason"]');
      body.reason = reason.value.trim();
      if (!body.reason) {
        moves.querySelector(".form-error").textContent = t("delib.cancel_reason_needed");
        reason.focus();
        return;
      }
    }
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    submitting(moves, async () => {
      const result = await api("POST", "/api/staff/deliberations/" + sessionId + "/moves", body);
      if (!result.ok) return refuse(moves, result);
      location.reload();
    });
  });

  /* Check-in from the session page: a pasted or scanned token, or a row's button. */
  const checkinError = document.getElementById("checkin-error");
  async function checkIn(body) {
    const result = await api("POST", "/api/staff/deliberations/" + sessionId + "/checkins", body);
    if (!result.ok) {
      if (checkinError) checkinError.textContent = explain(result);
      return false;
    }
    location.reload();
    return true;
  }
  const checkinForm = document.getElementById("checkin-form");
  if (checkinForm) checkinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = checkinForm.querySelector('input[name="token"]').value.trim();
    if (token) checkIn({ token });
  });
  document.querySelectorAll("[data-checkin]").forEach((button) => button.addEventListener("click", () => {
    button.disabled = true;
    checkIn({ registration_id: Number(button.dataset.checkin) }).then((ok) => { button.disabled = ok; });
  }));

  /* Remote guests. */
  const invite = document.getElementById("invite-form");
  if (invite) invite.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(invite);
    submitting(invite, async () => {
      const data = new FormData(invite);  // not invite.role: that is the element's ARIA role
      const hours = String(data.get("hours") || "").trim();
      const body = {
        role: String(data.get("role")),
        display_name: String(data.get("display_name") || ""),
        organisation: String(data.get("organisation") || ""),
        hours: /^\d+$/.test(hours) ? Number(hours) : hours,
      };
      const result = await api("POST", "/api/staff/deliberations/" + sessionId + "/invitations", body);
      if (!result.ok) return refuse(invite, result);
      location.reload();
    });
  });
  document.querySelectorAll("[data-copy]").forEach((button) => button.addEventListener("click", async () => {
    const input = button.parentElement.querySelector("input");
    input.select();
    try { await navigator.clipboard.writeText(input.value); } catch (e) { document.execCommand("copy"); }
    button.textContent = t("delib.invite.copied");
  }));
  document.querySelectorAll("[data-admit]").forEach((button) => button.addEventListener("click", async () => {
    const result = await api("POST", "/api/staff/invitations/" + button.dataset.admit + "/admit");
    if (result.ok) location.reload(); else alert(explain(result));
  }));
  document.querySelectorAll("[data-remove]").forEach((button) => button.addEventListener("click", async () => {
    const reason = prompt(t("delib.invite.remove_reason"));
    if (reason === null) return;
    const result = await api("POST", "/api/staff/invitations/" + button.dataset.remove + "/remove", { reason });
    if (result.ok) location.reload(); else alert(explain(result));
  }));

  /* The check-in page (/checkin/{token}): confirm, then say so. */
  const card = document.getElementById("checkin");
  const confirmButton = document.getElementById("checkin-confirm");
  if (card && confirmButton) confirmButton.addEventListener("click", async () => {
    confirmButton.disabled = true;
    const result = await api("POST", "/api/staff/deliberations/" + card.dataset.deliberation + "/checkins", { token: card.dataset.token });
    const done = document.getElementById("checkin-done");
    if (!result.ok) {
      document.getElementById("checkin-error").textContent = explain(result);
      confirmButton.disabled = false;
      return;
    }
    const at = new Date(result.data.checked_in_at).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
    done.textContent = t("delib.checkin.done", { name: result.data.name, at });
    done.hidden = false;
    confirmButton.hidden = true;
  });
})();
