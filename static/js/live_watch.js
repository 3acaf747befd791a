/* The viewers' page (/watch/{id}): the current topic, comments, questions, the open poll,
   reactions and who is watching, kept live over /live. Works one-handed on a phone. */
"use strict";
(function () {
  const { t, el } = window.MSY;
  const L = window.LIVE;
  const root = document.getElementById("live");
  const $ = (id) => document.getElementById(id);
  const commentForm = $("comment-form");
  const questionForm = $("question-form");
  const pollCard = $("poll-card");
  const voteForm = $("vote-form");

  let status = root.dataset.status;  // the session's state: announced, live, ended, ...
  let conn = "connecting";
  let refusedWith = "";
  let snapshotSeen = false;
  let me = { name: "" };
  let poll = null;  // the open poll, or the last one closed while we watched
  let voted = false;
  const questions = new Map();
  const upvoted = new Set();
  const reactions = { applause: 0, like: 0, heart: 0 };

  const comments = L.commentList($("comments"), {
    onChange() { $("comments-empty").hidden = comments.size > 0; },
    decorate() {
      // Follow the stream only while the reader is at its end, not while they scroll back.
      const list = $("comments");
      if (list.scrollHeight - list.scrollTop - list.clientHeight < 80) requestAnimationFrame(scrollToEnd);
    },
  });

  function scrollToEnd() {
    const list = $("comments");
    list.scrollTop = list.scrollHeight;
  }

  function report(card, text) {
    const slot = card.querySelector(".card-error") || card.querySelector(".form-error");
    if (slot) slot.textContent = text;
  }

  // --- the header: connection and session state ---------------------------------------------

  function render() {
    const label = $("live-state");
    let key = "live.state." + ({ announced: "waiting", live: "live", ended: "ended", published: "ended", cancelled: "cancelled" }[status] || "connecting");
    if (conn === "refused") key = "live.state.refused";
    else if (conn === "reconnecting") key = "live.state.reconnecting";
    else if (!snapshotSeen) key = "live.state.connecting";
    label.textContent = t(key);
    label.className = "live-state state-" + key.split(".").pop();
    const notice = $("live-notice");
    notice.hidden = !(conn === "refused" || status === "cancelled");
    if (conn === "refused") notice.textContent = L.refusalText(refusedWith);
    else if (status === "cancelled") notice.textContent = t("live.watch.cancelled");
    $("waiting-note").hidden = status !== "announced";
    const open = status === "live" && snapshotSeen && conn !== "refused";
    L.enable(commentForm, open);
    L.enable(questionForm, open);
    root.querySelectorAll("button.reaction").forEach((b) => { b.disabled = !open; });
    root.classList.toggle("is-live", status === "live");
    renderPoll();
  }

  // --- the current topic -------------------------------------------------------------------

  function showAgenda(agenda) {
    const current = (agenda.items || []).find((i) => i.topic_id === agenda.current_topic_id);
    $("caption").hidden = !current;
    if (current) $("caption-text").textContent = current.number + " " + current.title;
  }

  // --- the poll ----------------------------------------------------------------------------

  function renderPoll() {
    pollCard.hidden = !poll;
    if (!poll) return;
    $("poll-question").textContent = poll.question;
    const isOpen = poll.status === "open";
    const canVote = isOpen && !voted && status === "live";
    voteForm.hidden = !canVote;
    $("vote-button").disabled = !canVote;
    const seeTally = voted || !isOpen;
    $("poll-tally").replaceChildren(seeTally ? L.tallyBars(poll, poll.tally) : "");
    $("poll-state").textContent = !isOpen ? t("live.poll.final") : voted ? t("live.poll.voted") : t(poll.kind === "multiple" ? "live.poll.pick_many" : "live.poll.pick_one");
  }

  function showPoll(next, hasVoted) {
    const fresh = !poll || poll.id !== next.id;
    poll = next;
    if (fresh) {
      voted = Boolean(hasVoted);
      const box = $("vote-options");
      box.replaceChildren(el("legend", { class: "visually-hidden" }, next.question));
      const type = next.kind === "multiple" ? "checkbox" : "radio";
      for (const option of next.options) {
        box.append(el("label", { class: "choice" },
          el("input", { type, name: "choice", value: option.id }), " ", el("span", {}, option.label)));
      }
      report(pollCard, "");
    } else if (hasVoted !== undefined) {
      voted = voted || Boolean(hasVoted);
    }
    renderPoll();
  }

  voteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    report(pollCard, "");
    const choices = [...voteForm.querySelectorAll("input[name=choice]:checked")].map((i) => Number(i.value));
    if (!choices.length) { report(pollCard, t("live.poll.choose")); return; }
    $("vote-button").disabled = true;
    const ack = await room.call("poll", "vote", { id: poll.id, choices });
    if (ack.ok || (ack.error && ack.error.code === "conflict")) {
      voted = true;  // a "you already voted" means the same to the reader: show the tally
      if (!ack.ok) report(pollCard, L.errorText(ack.error, "poll", "vote"));
    } else {
      report(pollCard, L.errorText(ack.error, "poll", "vote"));
    }
    renderPoll();
  });

  // --- questions ---------------------------------------------------------------------------

  function renderQuestions() {
    const list = $("questions");
    list.replaceChildren();
    const shown = [...questions.values()]
      .filter((q) => q.status === "open" || q.status === "on_floor")
      .sort((a, b) => (b.status === "on_floor") - (a.status === "on_floor") || b.votes - a.votes || a.id - b.id);
    for (const q of shown) {
      const button = el("button", { type: "button", class: "upvote", "data-id": q.id,
        "aria-label": t("live.questions.upvote"), title: t("live.questions.upvote") }, "👍 " + q.votes);
      button.disabled = upvoted.has(q.id) || status !== "live";
      list.append(el("li", { class: "question status-" + q.status, "data-id": q.id },
        q.status === "on_floor" ? el("span", { class: "floor-tag" }, t("live.questions.on_floor")) : "",
        el("span", { class: "body" }, q.body),
        el("span", { class: "who muted" }, q.author_name),
        button));
    }
    if (!shown.length) list.append(el("li", { class: "muted empty" }, t("live.questions.empty")));
  }

  function upsertQuestions(items) {
    for (const q of items || []) questions.set(q.id, q);
    renderQuestions();
  }

  $("questions").addEventListener("click", async (event) => {
    const button = event.target.closest("button.upvote");
    if (!button) return;
    const id = Number(button.dataset.id);
    button.disabled = true;
    const ack = await room.call("question", "upvote", { id });
    const card = $("questions-card");
    report(card, "");
    if (ack.ok) {
      upvoted.add(id);
      upsertQuestions([ack.question]);
    } else {
      if (ack.error && ack.error.code === "conflict") upvoted.add(id);
      report(card, L.errorText(ack.error, "question", "upvote"));
      renderQuestions();
    }
  });

  // --- posting comments and questions ------------------------------------------------------

  function postForm(form, event, counterUpdate, done) {
    const input = form.querySelector("textarea");
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      window.MSY.clearErrors(form);
      form.querySelector(".form-note").textContent = "";
      const body = input.value.trim();
      if (!body) { form.querySelector(".form-error").textContent = t("live.error." + event + ".empty"); return; }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      const ack = await room.call(event, event === "comment" ? "post" : "ask", { body });
      button.disabled = false;
      if (!ack.ok) {
        form.querySelector(".form-error").textContent = L.errorText(ack.error, event, event === "comment" ? "post" : "ask");
        return;
      }
      input.value = "";
      counterUpdate();
      done(ack, form.querySelector(".form-note"));
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    });
  }

  postForm(commentForm, "comment", L.counter($("comment-body"), $("comment-count")), (ack, note) => {
    if (ack.comment.status === "visible") comments.add(ack.comment);
    else note.textContent = t("live.comments.held");
  });
  postForm(questionForm, "question", L.counter($("question-body"), $("question-count")), (ack, note) => {
    if (ack.question.status === "open") upsertQuestions([ack.question]);
    else note.textContent = t("live.questions.held");
  });

  // --- reactions and presence -------------------------------------------------------------

  function renderReactions() {
    for (const [kind, n] of Object.entries(reactions)) {
      const slot = root.querySelector('[data-count="' + kind + '"]');
      if (slot) slot.textContent = String(n);
    }
  }

  $("reactions").addEventListener("click", async (event) => {
    const button = event.target.closest("button.reaction");
    if (!button) return;
    button.classList.remove("pop");
    void button.offsetWidth;
    button.classList.add("pop");
    const ack = await room.call("reaction", "send", { kind: button.dataset.kind });
    report($("reactions"), ack.ok ? "" : L.errorText(ack.error, "reaction", "send"));
  });

  function showPresence(p) {
    const node = $("presence");
    node.hidden = false;
    node.textContent = t("live.watchers", { n: (p.viewers || 0) + (p.guests || 0) + (p.hosts || 0) });
  }

  function showModeration(m) {
    const note = $("moderation-note");
    note.hidden = !m || !m.hidden;
    if (m && m.hidden) note.textContent = t("live.comments.hidden_count", { n: m.hidden });
  }

  /* The session moved (started, ended, cancelled). A fresh snapshot follows: starting
     and ending change more than the state (ending closes the open poll, for one). */
  function setStatus(next) {
    if (!next || next === status) return;
    status = next;
    render();
    room.sync();
  }

  // --- the socket --------------------------------------------------------------------------

  function applySnapshot(s) {
    snapshotSeen = true;
    status = s.deliberation.status;
    me = s.me || me;
    $("me-line").hidden = !me.name;
    $("me-line").textContent = t("live.watch.you_are", { name: me.name });
    comments.reset(s.comments, s.cursor, me.name);
    scrollToEnd();
    showAgenda(s.agenda);
    questions.clear();
    for (const id of s.upvoted || []) upvoted.add(id);
    upsertQuestions(s.questions);
    Object.assign(reactions, { applause: 0, like: 0, heart: 0 }, s.reactions || {});
    renderReactions();
    if (s.presence) showPresence(s.presence);
    showModeration(s.moderation);
    if (s.poll) showPoll(s.poll, s.poll.voted);
    else if (poll && poll.status === "open") poll = null;
    if (s.media) showStream(s.media);
    render();
  }

  // --- the livestream: HLS with hls.js, or natively where there is no MSE (iOS, WeChat) -------

  let stream = { url: null, hls: null, video: null };

  function showStream(media) {
    const url = media.hls || null;
    if (url === stream.url) return;
    if (stream.hls) stream.hls.destroy();
    stream = { url, hls: null, video: null };
    const box = $("media");
    if (!url) {
      box.replaceChildren(el("p", { class: "media-placeholder" }, t(status === "live" ? "live.media.not_streaming" : "live.media.placeholder")));
      return;
    }
    const video = el("video", { controls: "", playsinline: "", autoplay: "", muted: "" });
    video.muted = true;  // autoplay needs it; the viewer unmutes with the controls
    stream.video = video;
    box.replaceChildren(video);
    // hls.js wherever Media Source Extensions exist (it also seeks and recovers better); the
    // browser's own HLS where they do not (iPhone Safari, WeChat on iOS).
    if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls({ liveSyncDurationCount: 2, lowLatencyMode: false });
      hls.loadSource(url);
      hls.attachMedia(video);
      hls.on(window.Hls.Events.ERROR, (_, data) => {
        if (!data.fatal) return;
        if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
          // The playlist appears a second after the host goes live, and a server restart
          // drops it for a moment: ask again.
          setTimeout(() => { if (stream.hls === hls) { hls.loadSource(url); hls.startLoad(); } }, 1500);
        } else hls.recoverMediaError();
      });
      stream.hls = hls;
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;
    } else {
      box.replaceChildren(el("p", { class: "media-placeholder" }, t("live.media.unsupported")));
      return;
    }
    video.play().catch(() => {});
  }

  // A cancelled session has no live room to join: the page says so and stays quiet.
  const room = status === "cancelled" ? null : L.connect({
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
        if (b.comments) comments.addAll(b.comments);
        if (b.questions) upsertQuestions(b.questions);
        if (b.tally && poll && b.tally.poll_id === poll.id) { poll.tally = b.tally; renderPoll(); }
        if (b.reactions) {
          Object.assign(reactions, b.reactions); // the session's totals, not this tick's
          renderReactions();
        }
        if (b.presence) showPresence(b.presence);
        if (b.moderation) showModeration(b.moderation);
      },
      comment(e) { if (e.op === "hidden") comments.hide(e.id); },
      question(e) { if (e.op === "update") upsertQuestions(e.questions); },
      poll(e) {
        if (e.op === "opened") showPoll(e.poll, false);
        else if (e.op === "closed" && poll && poll.id === e.poll.id) { poll = e.poll; renderPoll(); }
      },
      agenda(e) { if (e.op === "current") showAgenda(e); },
      session(e) { if (e.op === "state") setStatus(e.status); },
      deliberation(e) { if (e.op === "changed" && e.deliberation) setStatus(e.deliberation.status); },
      media(e) { if (e.op === "status") showStream(e); },
    },
  });

  render();
})();
