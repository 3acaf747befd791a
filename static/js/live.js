/* The live room's client, shared by the host console, the guest page and the viewers' page.

   One socket on /live. After every connect (and reconnect) it asks for a `sync` snapshot and
   the page rebuilds itself from it; events that arrive while the snapshot is on its way are
   held and replayed after it, so nothing is lost and, with the comment list's dedupe, nothing
   shows twice. Also here: error texts in the reader's language, the server clock (for the
   speaker's countdown), and render helpers. Every piece of user text goes in as text. */
"use strict";
(function () {
  const { t, el } = window.MSY;

  function has(key) { return t(key) !== key; }

  /* An error ack in the reader's language: the most specific catalogue text
     (live.error.<event>.<op>.<code>, then live.error.<code>), else the server's message. */
  function errorText(error, event, op) {
    const err = error || { code: "internal", message: "" };
    const values = { s: err.retry_after || 1 };
    const keys = ["live.error." + err.code];
    if (event) keys.unshift("live.error." + event + "." + op + "." + err.code);
    for (const key of keys) if (has(key)) return t(key, values);
    return err.message || t("live.error.internal");
  }

  /* Why the server refused the connection (connect_error's message is the reason code). */
  function refusalText(code) {
    const key = "live.refused." + code;
    return has(key) ? t(key) : t("live.refused.other", { code: code || "?" });
  }

  // The server's clock, as seen from here: countdowns use it, not the device's own time.
  let skew = 0;
  function setServerNow(iso) {
    const server = Date.parse(iso);
    if (!Number.isNaN(server)) skew = server - Date.now();
  }
  function serverNow() { return Date.now() + skew; }

  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  /* Seconds left for someone on the floor (negative once over time), or null. */
  function secondsLeft(speaker) {
    if (!speaker.ends_at) return null;
    return (Date.parse(speaker.ends_at) - serverNow()) / 1000;
  }

  function time(iso) {
    const d = new Date(iso);
    return d.toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
  }

  /* Connect to /live. options: deliberation, invite?, onSnapshot(snapshot),
     onState(state, detail) with state connecting|syncing|online|reconnecting|refused|closed,
     on: {event: handler}. Returns {socket, call(event, op, data) -> Promise<ack>, sync()}. */
  function connect(options) {
    const auth = { deliberation: options.deliberation };
    if (options.invite) auth.invite = options.invite;
    // `d` in the query lets a load balancer send a session's connections to one process,
    // where its media lives (README, "Scaling out").
    const socket = io("/live", { transports: ["websocket"], auth, query: { d: String(options.deliberation) } });
    const handlers = options.on || {};
    let held = null;  // events received while a snapshot is on its way
    let generation = 0;
    const state = (name, detail) => { if (options.onState) options.onState(name, detail); };

    function deliver(event, data) {
      const handler = handlers[event];
      if (!handler) return;
      try { handler(data); } catch (e) { console.error(e); }
    }

    function sync() {
      const mine = ++generation;
      held = held || [];
      state("syncing");
      socket.timeout(15000).emit("sync", { op: "snapshot" }, (timeout, ack) => {
        if (mine !== generation) return;  // a newer sync is on its way
        const queued = held || [];
        held = null;
        if (timeout || !ack || !ack.ok) {
          state("online");
          if (options.onError) options.onError(timeout ? t("live.error.timeout") : errorText(ack && ack.error, "sync", "snapshot"));
          for (const [event, data] of queued) deliver(event, data);
          return;
        }
        if (ack.snapshot.now) setServerNow(ack.snapshot.now);
        try { options.onSnapshot(ack.snapshot); } catch (e) { console.error(e); }
        state("online");
        for (const [event, data] of queued) deliver(event, data);
      });
    }

    for (const event of Object.keys(handlers)) {
      socket.on(event, (data) => {
        if (data && data.now) setServerNow(data.now);
        if (held) held.push([event, data]); else deliver(event, data);
      });
    }
    socket.on("connect", sync);
    socket.on("disconnect", (reason) => {
      generation += 1;
      held = null;
      // The server let go of us on purpose (a guest removed): it will not take us back.
      state(reason === "io server disconnect" ? "closed" : "reconnecting");
    });
    socket.on("connect_error", (err) => {
      if (socket.active) state("reconnecting");
      else state("refused", err && err.message);
    });
    state("connecting");

    function call(event, op, data) {
      return new Promise((resolve) => {
        if (!socket.connected) {
          resolve({ ok: false, error: { code: "not_connected", message: "" } });
          return;
        }
        socket.timeout(10000).emit(event, { op, ...(data || {}) }, (timeout, ack) => {
          if (timeout) resolve({ ok: false, error: { code: "timeout", message: "" } });
          else resolve(ack || { ok: false, error: { code: "internal", message: "" } });
        });
      });
    }

    return { socket, call, sync };
  }

  /* A comment stream. Comments are keyed by id: a batch that repeats one already shown
     (it came in the snapshot, or in our own ack) is dropped, and so is one a moderator hid.
     `cursor` is the newest id the last snapshot held. */
  function commentList(list, options) {
    const opts = options || {};
    const shown = new Map();  // id -> li
    const hidden = new Set();
    const limit = opts.limit || 200;
    let cursor = 0;
    let mine = "";

    function item(c) {
      const li = el("li", { class: "comment role-" + c.role + (c.name === mine ? " mine" : ""), "data-id": c.id },
        el("span", { class: "who" }, c.name),
        c.role !== "viewer" ? el("span", { class: "role-tag" }, t("live.role." + c.role)) : "",
        el("time", { datetime: c.at }, time(c.at)),
        el("span", { class: "body" }, c.body));
      if (opts.decorate) opts.decorate(li, c);
      return li;
    }

    function add(c) {
      if (shown.has(c.id) || hidden.has(c.id)) return false;
      const li = item(c);
      shown.set(c.id, li);
      // In id order, as a snapshot would list them: our own comment (shown from the ack)
      // may overtake one posted just before it that is still in the next batch.
      let after = list.lastElementChild;
      while (after && Number(after.dataset.id) > c.id) after = after.previousElementSibling;
      if (after) after.after(li); else list.prepend(li);
      while (shown.size > limit) {
        const oldest = list.firstElementChild;
        shown.delete(Number(oldest.dataset.id));
        oldest.remove();
      }
      if (opts.onChange) opts.onChange();
      return true;
    }

    return {
      reset(comments, snapshotCursor, me) {
        mine = me || mine;
        shown.clear();
        list.replaceChildren();
        cursor = snapshotCursor || 0;
        for (const c of comments) add(c);
        if (opts.onChange) opts.onChange();
      },
      add,
      addAll(comments) { for (const c of comments || []) add(c); },
      hide(id) {
        hidden.add(id);
        const node = shown.get(id);
        shown.delete(id);
        if (node) node.remove();
        if (opts.onChange) opts.onChange();
      },
      has(id) { return shown.has(id); },
      get size() { return shown.size; },
      get cursor() { return cursor; },
    };
  }

  /* A poll's tally as bars: one row per option, votes and share of ballots. */
  function tallyBars(poll, tally) {
    const counts = (tally && tally.votes) || {};
    const ballots = (tally && tally.ballots) || 0;
    const list = el("ol", { class: "tally", "data-poll": poll.id });
    for (const option of poll.options) {
      const n = counts[String(option.id)] || 0;
      const share = ballots ? Math.round((n * 100) / ballots) : 0;
      const bar = el("span", { class: "bar" });
      bar.style.width = share + "%";
      list.append(el("li", { "data-option": option.id },
        el("span", { class: "label" }, option.label),
        el("span", { class: "track" }, bar),
        el("span", { class: "count" }, t("live.poll.votes", { n, share }))));
    }
    list.append(el("li", { class: "ballots" }, t("live.poll.ballots", { n: ballots })));
    return list;
  }

  /* Presence counts as one line. */
  function presenceText(p) {
    return t("live.presence", { viewers: p.viewers || 0, guests: p.guests || 0, hosts: p.hosts || 0 });
  }

  const REACTIONS = { applause: "👏", like: "👍", heart: "❤️" };

  /* A character counter under a text box: "12/300", red when near the limit. */
  function counter(input, output) {
    const max = Number(input.getAttribute("maxlength"));
    const update = () => {
      const n = [...input.value].length;
      output.textContent = n + "/" + max;
      output.classList.toggle("near", n > max * 0.9);
    };
    input.addEventListener("input", update);
    update();
    return update;
  }

  /* Enable or disable every control inside a container. */
  function enable(container, on) {
    container.querySelectorAll("button, input, textarea, select").forEach((node) => { node.disabled = !on; });
  }

  /* The countdown beside whoever has the floor, refreshed every second. */
  function countdownText(speaker) {
    const left = secondsLeft(speaker);
    if (left === null) return "";
    return left >= 0 ? t("live.queue.left", { time: clock(left) }) : t("live.queue.over", { time: clock(-left) });
  }

  /* A speaker queue as a list; `actions(li, speaker)` may add the host's buttons. */
  function queueList(list, queue, actions) {
    list.replaceChildren();
    const speaking = queue.filter((s) => s.status === "speaking");
    const waiting = queue.filter((s) => s.status === "waiting");
    for (const s of [...speaking, ...waiting]) {
      const li = el("li", { class: "speaker status-" + s.status, "data-id": s.id },
        el("span", { class: "who" }, s.name),
        s.role ? el("span", { class: "role-tag" }, roleName(s.role)) : "",
        el("span", { class: "where" }, t(s.on_site ? "live.queue.on_site" : "live.queue.remote")),
        el("span", { class: "state" }, t("live.queue.status." + s.status)),
        s.status === "speaking" ? el("span", { class: "countdown", "data-ends": s.ends_at }, countdownText(s)) : "");
      if (actions) actions(li, s);
      list.append(li);
    }
    if (!speaking.length && !waiting.length) list.append(el("li", { class: "muted empty" }, t("live.queue.empty")));
  }

  /* A guest's or an attendee's role, translated when the catalogue knows it. */
  function roleName(role) {
    for (const key of ["live.guest_role." + role, "live.attendee." + role]) if (has(key)) return t(key);
    return role;
  }

  setInterval(() => {
    document.querySelectorAll(".countdown[data-ends]").forEach((node) => {
      const left = secondsLeft({ ends_at: node.dataset.ends });
      node.textContent = countdownText({ ends_at: node.dataset.ends });
      node.classList.toggle("over", left !== null && left < 0);
      node.classList.toggle("near", left !== null && left >= 0 && left < 30);
    });
  }, 1000);

  window.LIVE = {
    connect, errorText, refusalText, commentList, tallyBars, presenceText, counter, enable,
    queueList, roleName, time, clock, secondsLeft, setServerNow, REACTIONS, has,
  };
})();
