/* The host console (/host/{id}): run a live session. The agenda, the lobby of remote guests,
   the speaker queue, polls, comment moderation (held and visible), questions, reactions and
   presence, all from the /live snapshot and the events after it. */
"use strict";
(function () {
  const { t, el } = window.MSY;
  const L = window.LIVE;
  const root = document.getElementById("live");
  const $ = (id) => document.getElementById(id);

  let status = root.dataset.status;
  let version = Number(root.dataset.version);  // of the session row, for start and end
  let conn = "connecting";
  let refusedWith = "";
  let snapshotSeen = false;
  let agenda = { current_topic_id: null, items: [] };
  let lobby = [];
  let queue = [];
  const polls = new Map();
  const held = new Map();
  const questions = new Map();
  const reactions = { applause: 0, like: 0, heart: 0 };

  function report(card, text) {
    const slot = card.querySelector(".card-error");
    if (slot) slot.textContent = text || "";
  }

  /* Send one op; on refusal show why in the card, in the reader's language. */
  async function act(card, event, op, data) {
    report(card, "");
    const ack = await room.call(event, op, data);
    if (!ack.ok) report(card, L.errorText(ack.error, event, op));
    return ack;
  }

  /* An inline reason form (hide a comment, remove a guest) under `host`. */
  function askReason(host, required, submit) {
    if (host.querySelector("form.hide-form")) return;
    const form = $("hide-form-template").content.firstElementChild.cloneNode(true);
    const input = form.querySelector("input");
    input.required = required;
    if (!required) input.placeholder = t("live.host.remove_reason");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      form.querySelector("button.confirm-hide").disabled = true;
      const ok = await submit(input.value.trim());
      if (ok) form.remove(); else form.querySelector("button.confirm-hide").disabled = false;
    });
    form.querySelector("button.cancel").addEventListener("click", () => form.remove());
    host.append(form);
    input.focus();
  }

  /* Rebuild a list without losing a reason form someone is typing in: the forms move over
     to the rebuilt rows (same data-id), text and focus kept. */
  function rebuild(list, build) {
    const open = [...list.querySelectorAll("li[data-id] > form.hide-form")].map((f) => [f.parentElement.dataset.id, f]);
    const focused = document.activeElement;
    build();
    for (const [id, form] of open) {
      const li = list.querySelector('li[data-id="' + id + '"]');
      if (li) li.append(form);
    }
    if (focused && focused !== document.activeElement && document.contains(focused)) focused.focus();
  }

  // --- header --------------------------------------------------------------------------------

  function render() {
    const label = $("live-state");
    let key = "live.state.online";
    if (conn === "refused") key = "live.state.refused";
    else if (conn === "reconnecting") key = "live.state.reconnecting";
    else if (conn === "closed") key = "live.state.closed";
    else if (!snapshotSeen) key = "live.state.connecting";
    label.textContent = t(key);
    label.className = "live-state state-" + key.split(".").pop();
    const badge = $("session-status");
    badge.textContent = t("live.session." + status);
    badge.className = "status session-" + status;
    const notice = $("live-notice");
    notice.hidden = conn !== "refused" && status === "live";
    if (conn === "refused") notice.textContent = L.refusalText(refusedWith);
    else if (status !== "live") notice.textContent = t("live.host.not_live." + status);
    root.classList.toggle("is-live", status === "live");
    $("start-session").hidden = status !== "announced";
    $("end-session").hidden = status !== "live" || !$("end-confirm").hidden;
    if (status !== "live") $("end-confirm").hidden = $("end-cancel").hidden = true;
    renderAgenda();
    renderQueue();
  }

  // --- starting and ending the session (the staff API; the live room follows its event) ---

  async function moveSession(to, button) {
    const controls = $("session-controls");
    report(controls, "");
    button.disabled = true;
    const url = "/api/staff/deliberations/" + root.dataset.deliberation;
    let result = await window.MSY.api("POST", url + "/moves", { to, version });
    if (!result.ok && result.data && result.data.error && result.data.error.code === "stale_update") {
      // Someone changed the session (an edit, say) since this page learnt its version.
      const fresh = await window.MSY.api("GET", url);
      if (fresh.ok && fresh.data.status === status) {
        version = fresh.data.version;
        result = await window.MSY.api("POST", url + "/moves", { to, version });
      }
    }
    button.disabled = false;
    if (!result.ok) {
      const error = (result.data && result.data.error) || { code: "http_error", message: String(result.status) };
      report(controls, L.errorText({ ...error, retry_after: result.retryAfter }, "session", "move"));
      return;
    }
    version = result.data.version;
    setStatus(result.data.status);
  }

  $("start-session").addEventListener("click", (event) => moveSession("live", event.currentTarget));
  $("end-session").addEventListener("click", () => {
    $("end-session").hidden = true;
    $("end-confirm").hidden = $("end-cancel").hidden = false;
  });
  $("end-cancel").addEventListener("click", () => {
    $("end-confirm").hidden = $("end-cancel").hidden = true;
    render();
  });
  $("end-confirm").addEventListener("click", async (event) => {
    await moveSession("ended", event.currentTarget);
    $("end-confirm").hidden = $("end-cancel").hidden = true;
    render();
  });

  // --- agenda ----------------------------------------------------------------------------------

  function renderAgenda() {
    const list = $("agenda");
    list.replaceChildren();
    for (const item of agenda.items) {
      const current = item.topic_id === agenda.current_topic_id;
      const button = el("button", { type: "button", class: "goto", "data-topic": item.topic_id },
        t(current ? "live.agenda.is_current" : "live.agenda.goto"));
      button.disabled = current || status !== "live";
      list.append(el("li", { class: current ? "current" : "", "data-topic": item.topic_id },
        el("span", { class: "number" }, item.number), " ", el("span", { class: "title" }, item.title), button));
    }
    if (!agenda.items.length) list.append(el("li", { class: "muted" }, t("live.agenda.empty")));
  }

  $("agenda").addEventListener("click", async (event) => {
    const button = event.target.closest("button.goto");
    if (!button) return;
    button.disabled = true;
    const ack = await act($("agenda-card"), "agenda", "goto", { topic_id: Number(button.dataset.topic) });
    if (ack.ok) agenda = ack.agenda;
    renderAgenda();
  });

  // --- lobby -----------------------------------------------------------------------------------

  function guestState(g) {
    if (g.status === "admitted") return g.connected ? "admitted" : "admitted_away";
    return g.connected ? "waiting" : "offline";
  }

  function renderLobby() { rebuild($("lobby"), buildLobby); }

  function buildLobby() {
    const list = $("lobby");
    list.replaceChildren();
    const order = { waiting: 0, admitted: 1, admitted_away: 2, offline: 3 };
    const guests = [...lobby].sort((a, b) => order[guestState(a)] - order[guestState(b)] || a.id - b.id);
    for (const g of guests) {
      const state = guestState(g);
      const li = el("li", { class: "guest guest-" + state, "data-id": g.id },
        el("span", { class: "live-dot" + (g.connected ? " on" : "") }),
        el("span", { class: "who" }, g.name),
        el("span", { class: "role-tag" }, L.roleName(g.role)),
        g.organisation ? el("span", { class: "muted" }, g.organisation) : "",
        el("span", { class: "state" }, t("live.lobby." + state)));
      if (g.status === "invited") li.append(el("button", { type: "button", class: "admit", "data-id": g.id }, t("live.lobby.admit")));
      li.append(el("button", { type: "button", class: "remove danger", "data-id": g.id }, t("live.lobby.remove")));
      list.append(li);
    }
    if (!guests.length) list.append(el("li", { class: "muted" }, t("live.lobby.empty")));
  }

  $("lobby").addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button || !button.dataset.id) return;
    const id = Number(button.dataset.id);
    const card = $("lobby-card");
    if (button.classList.contains("admit")) {
      button.disabled = true;
      const ack = await act(card, "lobby", "admit", { id });
      if (ack.ok) { lobby = ack.guests; renderLobby(); } else button.disabled = false;
    } else if (button.classList.contains("remove")) {
      askReason(button.closest("li"), false, async (reason) => {
        const ack = await act(card, "lobby", "remove", { id, reason });
        if (ack.ok) { lobby = ack.guests; renderLobby(); }
        return ack.ok;
      });
    }
  });

  // --- speaker queue -----------------------------------------------------------------------

  function renderQueue() {
    L.queueList($("queue"), queue, (li, s) => {
      if (s.status === "waiting") {
        const give = el("button", { type: "button", class: "give", "data-id": s.id }, t("live.queue.give"));
        const drop = el("button", { type: "button", class: "withdraw", "data-id": s.id }, t("live.queue.drop"));
        give.disabled = status !== "live";
        li.append(give, drop);
      } else if (s.status === "speaking") {
        li.append(el("button", { type: "button", class: "take", "data-id": s.id }, t("live.queue.take")));
      }
    });
  }

  $("queue").addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button || !button.dataset.id) return;
    const id = Number(button.dataset.id);
    const card = $("queue-card");
    let ack;
    button.disabled = true;
    if (button.classList.contains("give")) {
      const seconds = Number($("floor-seconds").value) || 180;
      ack = await act(card, "queue", "give", { id, seconds });
    } else if (button.classList.contains("withdraw")) {
      ack = await act(card, "queue", "withdraw", { id });
    } else if (button.classList.contains("take")) {
      ack = await act(card, "queue", "take", { id });
    }
    if (ack && ack.ok) queue = ack.queue;
    renderQueue();
  });

  $("onsite-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const name = form.elements.name.value.trim();
    if (!name) { report($("queue-card"), t("live.error.queue.raise.validation_failed")); return; }
    const ack = await act($("queue-card"), "queue", "raise", { name, role: form.elements.role.value });
    if (ack.ok) { queue = ack.queue; form.elements.name.value = ""; renderQueue(); }
  });

  // --- polls -----------------------------------------------------------------------------------

  function renderPolls() {
    const list = $("polls");
    list.replaceChildren();
    const ordered = [...polls.values()].sort((a, b) => b.id - a.id);
    for (const p of ordered) {
      const li = el("li", { class: "poll status-" + p.status, "data-id": p.id },
        el("p", {},
          el("span", { class: "status poll-" + p.status }, t("live.poll.status." + p.status)), " ",
          el("strong", { class: "question" }, p.question), " ",
          el("small", {}, t("live.poll." + p.kind) + (p.anonymous ? " · " + t("live.poll.anonymous_tag") : ""))),
        L.tallyBars(p, p.tally));
      if (p.status === "draft") li.append(el("button", { type: "button", class: "open", "data-id": p.id }, t("live.poll.open")));
      if (p.status === "open") li.append(el("button", { type: "button", class: "close", "data-id": p.id }, t("live.poll.close")));
      if (p.status === "closed") li.append(el("p", { class: "muted final" }, t("live.poll.final")));
      list.append(li);
    }
  }

  function upsertPoll(p) {
    const known = polls.get(p.id);
    polls.set(p.id, known && !p.tally ? { ...p, tally: known.tally } : p);
    renderPolls();
  }

  $("poll-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    window.MSY.clearErrors(form);
    const options = form.elements.options.value.split("\n").map((o) => o.trim()).filter(Boolean);
    const data = {
      question: form.elements.question.value.trim(),
      options,
      kind: form.elements.kind.value,
      anonymous: form.elements.anonymous.checked,
    };
    const ack = await room.call("poll", "create", data);
    if (!ack.ok) { form.querySelector(".form-error").textContent = L.errorText(ack.error, "poll", "create"); return; }
    form.reset();
    upsertPoll(ack.poll);
  });

  $("polls").addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button || !button.dataset.id) return;
    const op = button.classList.contains("open") ? "open" : "close";
    button.disabled = true;
    const ack = await act($("polls-card"), "poll", op, { id: Number(button.dataset.id) });
    if (ack.ok) upsertPoll(ack.poll); else button.disabled = false;
  });

  // --- comments: visible stream and held ones ------------------------------------------------

  const comments = L.commentList($("comments"), {
    onChange() { $("comments-empty").hidden = comments.size > 0; },
    decorate(li, c) {
      li.append(el("button", { type: "button", class: "hide link", "data-id": c.id }, t("live.host.hide")));
      const list = $("comments");
      if (list.scrollHeight - list.scrollTop - list.clientHeight < 80) requestAnimationFrame(() => { list.scrollTop = list.scrollHeight; });
    },
  });

  function renderHeld() { rebuild($("held"), buildHeld); }

  function buildHeld() {
    const list = $("held");
    list.replaceChildren();
    for (const c of [...held.values()].sort((a, b) => a.id - b.id)) {
      list.append(el("li", { class: "comment held-comment", "data-id": c.id },
        el("span", { class: "who" }, c.name),
        el("time", { datetime: c.at }, L.time(c.at)),
        el("span", { class: "body" }, c.body),
        c.reason ? el("small", { class: "reason" }, t("live.host.held_reason", { reason: c.reason })) : "",
        el("button", { type: "button", class: "approve", "data-id": c.id }, t("live.host.approve")),
        el("button", { type: "button", class: "hide danger", "data-id": c.id }, t("live.host.hide"))));
    }
    $("held-empty").hidden = held.size > 0;
    $("held-count").textContent = String(held.size);
  }

  function hideComment(card, button) {
    const id = Number(button.dataset.id);
    askReason(button.closest("li"), true, async (reason) => {
      if (!reason) { report(card, t("live.error.comment.hide.validation_failed")); return false; }
      const ack = await act(card, "comment", "hide", { id, reason });
      if (ack.ok) { comments.hide(id); held.delete(id); renderHeld(); }
      return ack.ok;
    });
  }

  $("comments").addEventListener("click", (event) => {
    const button = event.target.closest("button.hide");
    if (button) hideComment($("comments-card"), button);
  });

  $("held").addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button || !button.dataset.id) return;
    if (button.classList.contains("hide")) { hideComment($("held-card"), button); return; }
    const id = Number(button.dataset.id);
    button.disabled = true;
    const ack = await act($("held-card"), "comment", "approve", { id });
    if (ack.ok) {
      held.delete(id);
      comments.add(ack.comment);
      renderHeld();
    } else button.disabled = false;
  });

  const commentForm = $("comment-form");
  const updateCount = L.counter($("comment-body"), $("comment-count"));
  commentForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("comment-body");
    const error = commentForm.querySelector(".form-error");
    error.textContent = "";
    if (!input.value.trim()) { error.textContent = t("live.error.comment.empty"); return; }
    const ack = await room.call("comment", "post", { body: input.value.trim() });
    if (!ack.ok) { error.textContent = L.errorText(ack.error, "comment", "post"); return; }
    input.value = "";
    updateCount();
    comments.add(ack.comment);
  });

  // --- questions -------------------------------------------------------------------------------

  function renderQuestions() {
    const list = $("questions");
    list.replaceChildren();
    const shown = [...questions.values()]
      .filter((q) => q.status === "open" || q.status === "on_floor")
      .sort((a, b) => (b.status === "on_floor") - (a.status === "on_floor") || b.votes - a.votes || a.id - b.id);
    for (const q of shown) {
      const li = el("li", { class: "question status-" + q.status, "data-id": q.id },
        el("span", { class: "votes" }, "👍 " + q.votes),
        q.status === "on_floor" ? el("span", { class: "floor-tag" }, t("live.questions.on_floor")) : "",
        el("span", { class: "body" }, q.body),
        el("span", { class: "who muted" }, q.author_name));
      if (q.status === "open") li.append(el("button", { type: "button", "data-op": "floor", "data-id": q.id }, t("live.questions.to_floor")));
      li.append(el("button", { type: "button", "data-op": "answered", "data-id": q.id }, t("live.questions.answered")));
      li.append(el("button", { type: "button", class: "danger", "data-op": "hide", "data-id": q.id }, t("live.host.hide")));
      list.append(li);
    }
    if (!shown.length) list.append(el("li", { class: "muted" }, t("live.questions.empty")));
  }

  function upsertQuestions(items) {
    for (const q of items || []) questions.set(q.id, q);
    renderQuestions();
  }

  $("questions").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-op]");
    if (!button) return;
    button.disabled = true;
    const ack = await act($("questions-card"), "question", button.dataset.op, { id: Number(button.dataset.id) });
    if (ack.ok) upsertQuestions(ack.questions); else button.disabled = false;
  });

  // --- presence, reactions, moderation count -----------------------------------------------

  function renderReactions() {
    for (const [kind, n] of Object.entries(reactions)) {
      const slot = root.querySelector('[data-count="' + kind + '"]');
      if (slot) slot.textContent = String(n);
    }
  }

  function showModeration(m) {
    $("hidden-count").textContent = t("live.host.hidden_count", { n: (m && m.hidden) || 0 });
  }

  /* The session moved (started, ended, cancelled). A fresh snapshot follows: starting
     and ending change more than the state (ending closes the open poll and the queue). */
  function setStatus(next) {
    if (!next || next === status) return;
    status = next;
    if (status !== "live" && media) media.stop();  // the session ended: the peer goes
    render();
    room.sync();
  }

  // --- the socket ------------------------------------------------------------------------------

  function applySnapshot(s) {
    snapshotSeen = true;
    status = s.deliberation.status;
    agenda = s.agenda;
    lobby = s.lobby || [];
    queue = s.queue || [];
    polls.clear();
    for (const p of s.polls || []) polls.set(p.id, p);
    held.clear();
    const visible = [];
    for (const c of s.comments) {
      if (c.status === "held") held.set(c.id, c); else visible.push(c);
    }
    comments.reset(visible, s.cursor, s.me && s.me.name);
    questions.clear();
    upsertQuestions(s.questions);
    Object.assign(reactions, { applause: 0, like: 0, heart: 0 }, s.reactions || {});
    renderReactions();
    if (s.presence) $("presence").textContent = L.presenceText(s.presence);
    showModeration(s.moderation);
    renderLobby();
    renderPolls();
    renderHeld();
    render();
    media.setConfig(status === "live" && s.media ? s.media.config : null);
    if (s.media) media.applyStatus(s.media);
  }

  // --- video link: the room's camera and microphone, and the guests on video ------------------

  let media = null;
  const mediaCard = $("media-card");

  let onAir = { live: false, recording: false };

  function renderSwitches(status) {
    onAir = { live: !!status.live, recording: !!status.recording };
    const live = $("stream-switch");
    const rec = $("record-switch");
    live.textContent = t(onAir.live ? "live.media.live_off" : "live.media.live_on");
    rec.textContent = t(onAir.recording ? "live.media.record_off" : "live.media.record_on");
    live.setAttribute("aria-pressed", String(onAir.live));
    rec.setAttribute("aria-pressed", String(onAir.recording));
    const parts = [];
    if (onAir.live) parts.push(t("live.media.on_air"));
    if (onAir.recording) parts.push(t("live.media.recording"));
    $("stream-status").textContent = parts.length ? parts.join(" · ") : t("live.media.off_air");
    $("stream-status").className = "media-state" + (parts.length ? " media-on-air" : "");
  }

  $("stream-switch").addEventListener("click", () => act(mediaCard, "media", "live", { on: !onAir.live }));
  $("record-switch").addEventListener("click", () => act(mediaCard, "media", "record", { on: !onAir.recording }));

  function renderPeople(status) {
    renderSwitches(status);
    const list = $("media-people");
    list.replaceChildren();
    for (const p of status.participants || []) {
      const li = el("li", { class: "media-person" + (p.id === status.spotlight ? " spotlight" : "") },
        el("strong", {}, p.name), " ", el("span", { class: "muted" }, p.role),
        " ", el("span", { class: "media-peer-state" }, t("live.media.peer." + (p.state || "new"))));
      if (p.muted) li.append(" ", el("span", { class: "tag" }, t("live.media.muted")));
      const spot = el("button", { type: "button" }, t(p.id === status.spotlight ? "live.media.unspotlight" : "live.media.spotlight"));
      spot.addEventListener("click", () => act(mediaCard, "media", "spotlight", { participant: p.id === status.spotlight ? null : p.id }));
      li.append(" ", spot);
      if (!p.id.startsWith("staff:")) {
        const mute = el("button", { type: "button" }, t(p.muted ? "live.media.unmute" : "live.media.mute"));
        mute.addEventListener("click", () => act(mediaCard, "media", "mute", { participant: p.id, muted: !p.muted }));
        li.append(" ", mute);
      }
      list.append(li);
    }
  }

  const room = L.connect({
    deliberation: Number(root.dataset.deliberation),
    onSnapshot: applySnapshot,
    onState(state, detail) {
      conn = state;
      if (state === "refused") refusedWith = detail || "";
      render();
    },
    onError(text) { $("live-notice").hidden = false; $("live-notice").textContent = text; },
    on: {
      batch(b) {
        if (b.comments) {
          // Approved by another moderator: now visible.
          if (b.comments.some((c) => held.delete(c.id))) renderHeld();
          comments.addAll(b.comments);
        }
        if (b.questions) upsertQuestions(b.questions);
        if (b.tally && polls.has(b.tally.poll_id)) {
          polls.get(b.tally.poll_id).tally = b.tally;
          renderPolls();
        }
        if (b.reactions) {
          Object.assign(reactions, b.reactions); // the session's totals, not this tick's
          renderReactions();
        }
        if (b.presence) $("presence").textContent = L.presenceText(b.presence);
        if (b.moderation) showModeration(b.moderation);
      },
      comment(e) {
        if (e.op === "held") { held.set(e.comment.id, e.comment); renderHeld(); }
        else if (e.op === "hidden") { comments.hide(e.id); held.delete(e.id); renderHeld(); }
        else if (e.op === "approved") {
          const c = held.get(e.id);
          held.delete(e.id);
          if (c) comments.add(c);
          renderHeld();
        }
      },
      question(e) { if (e.op === "update") upsertQuestions(e.questions); },
      poll(e) { if (e.poll) upsertPoll(e.poll); },
      queue(e) { if (e.op === "state") { queue = e.queue; renderQueue(); } },
      agenda(e) { if (e.op === "current") { agenda = e; renderAgenda(); } },
      lobby(e) { if (e.op === "state") { lobby = e.guests; renderLobby(); } },
      session(e) { if (e.op === "state") setStatus(e.status); },
      deliberation(e) {
        if (e.op !== "changed" || !e.deliberation) return;
        version = Math.max(version, e.deliberation.version || 0);
        setStatus(e.deliberation.status);
      },
    },
  });

  media = window.LIVE_MEDIA.attach(room, {
    grid: $("media-grid"),
    button: $("media-start"),
    leave: $("media-leave"),
    state: $("media-state"),
    onStatus: renderPeople,
  });
  render();
})();
