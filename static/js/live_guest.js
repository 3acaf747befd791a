/* A remote guest's page (/join/{token}): wait in the lobby until the host lets you in, then
   follow the current topic and the speaker queue, raise or lower your hand, and talk in the
   comments. The video area (#media) is filled by the media client. */
"use strict";
(function () {
  const { t, el } = window.MSY;
  const L = window.LIVE;
  const root = document.getElementById("live");
  const $ = (id) => document.getElementById(id);
  const commentForm = $("comment-form");

  let status = root.dataset.status;
  let conn = "connecting";
  let refusedWith = "";
  let place = "connecting";  // connecting | lobby | admitted | removed
  let me = { name: "" };
  let queue = [];

  const comments = L.commentList($("comments"), {
    onChange() { $("comments-empty").hidden = comments.size > 0; },
    decorate() {
      const list = $("comments");
      if (list.scrollHeight - list.scrollTop - list.clientHeight < 80) requestAnimationFrame(() => { list.scrollTop = list.scrollHeight; });
    },
  });

  function render() {
    const label = $("live-state");
    let key = "live.state." + ({ announced: "waiting", live: "live", ended: "ended", published: "ended", cancelled: "cancelled" }[status] || "connecting");
    if (place === "removed") key = "live.state.removed";
    else if (conn === "refused") key = "live.state.refused";
    else if (conn === "reconnecting") key = "live.state.reconnecting";
    else if (place === "connecting") key = "live.state.connecting";
    else if (place === "lobby") key = "live.state.lobby";
    label.textContent = t(key);
    label.className = "live-state state-" + key.split(".").pop();
    const notice = $("live-notice");
    notice.hidden = !(conn === "refused" && place !== "removed");
    if (conn === "refused") notice.textContent = L.refusalText(refusedWith);
    $("lobby-wait").hidden = place !== "lobby";
    $("removed").hidden = place !== "removed";
    $("admitted").hidden = place !== "admitted";
    const open = place === "admitted" && status === "live" && conn !== "refused";
    L.enable(commentForm, open);
    renderQueue();
  }

  function showAgenda(agenda) {
    const current = (agenda.items || []).find((i) => i.topic_id === agenda.current_topic_id);
    $("caption").hidden = !current;
    if (current) $("caption-text").textContent = current.number + " " + current.title;
  }

  // --- the queue and my hand -----------------------------------------------------------------

  /* My own request: the queue names the invitation each guest entry belongs to. */
  function mine() {
    return queue.find((s) => s.invitation_id === me.invitation_id && (s.status === "waiting" || s.status === "speaking"));
  }

  function renderQueue() {
    L.queueList($("queue"), queue, (li, s) => { if (s === mine()) li.classList.add("mine"); });
    const speaking = queue.find((s) => s.status === "speaking");
    const floor = $("floor");
    floor.hidden = !speaking;
    if (speaking) {
      floor.replaceChildren(t("live.queue.floor_is", { name: speaking.name }), " ",
        el("span", { class: "countdown", "data-ends": speaking.ends_at }, ""));
    }
    const hand = $("hand");
    const own = mine();
    hand.dataset.id = own ? own.id : "";
    hand.textContent = t(!own ? "live.queue.raise" : own.status === "speaking" ? "live.queue.you_speak" : "live.queue.withdraw");
    hand.classList.toggle("raised", Boolean(own));
    hand.disabled = place !== "admitted" || status !== "live" || (own && own.status === "speaking");
  }

  $("hand").addEventListener("click", async () => {
    const hand = $("hand");
    const card = $("queue-card");
    card.querySelector(".card-error").textContent = "";
    hand.disabled = true;
    const own = mine();
    const op = own ? "withdraw" : "raise";
    const ack = await room.call("queue", op, own ? { id: own.id } : {});
    if (ack.ok) queue = ack.queue;
    else card.querySelector(".card-error").textContent = L.errorText(ack.error, "queue", op);
    renderQueue();
  });

  // --- comments --------------------------------------------------------------------------------

  const updateCount = L.counter($("comment-body"), $("comment-count"));
  commentForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("comment-body");
    const error = commentForm.querySelector(".form-error");
    const note = commentForm.querySelector(".form-note");
    error.textContent = "";
    note.textContent = "";
    const body = input.value.trim();
    if (!body) { error.textContent = t("live.error.comment.empty"); return; }
    const button = commentForm.querySelector("button[type=submit]");
    button.disabled = true;
    const ack = await room.call("comment", "post", { body });
    button.disabled = false;
    if (!ack.ok) { error.textContent = L.errorText(ack.error, "comment", "post"); return; }
    input.value = "";
    updateCount();
    if (ack.comment.status === "visible") comments.add(ack.comment);
    else note.textContent = t("live.comments.held");
  });
  $("comment-body").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); commentForm.requestSubmit(); }
  });

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
    me = s.me || me;
    if (s.op === "lobby") {
      place = me.status === "removed" ? "removed" : "lobby";
      render();
      return;
    }
    place = "admitted";
    status = s.deliberation.status;
    comments.reset(s.comments, s.cursor, me.name);
    showAgenda(s.agenda);
    queue = s.queue || [];
    render();
    media.setConfig(status === "live" && s.media ? s.media.config : null);
    if (s.media) media.applyStatus(s.media);
  }

  let media = null;

  const room = L.connect({
    deliberation: Number(root.dataset.deliberation),
    invite: root.dataset.token,
    onSnapshot: applySnapshot,
    onState(state, detail) {
      conn = state;
      if (state === "refused") {
        refusedWith = detail || "";
        if (refusedWith === "gone" && place !== "connecting") place = "removed";
      }
      render();
    },
    onError(text) { $("live-notice").hidden = false; $("live-notice").textContent = text; },
    on: {
      lobby(e) {
        if (e.op === "admitted") room.sync();
        else if (e.op === "removed") { place = "removed"; render(); }
      },
      batch(b) {
        if (place !== "admitted") return;
        if (b.comments) comments.addAll(b.comments);
      },
      comment(e) { if (e.op === "hidden") comments.hide(e.id); },
      queue(e) { if (e.op === "state") { queue = e.queue; renderQueue(); } },
      agenda(e) { if (e.op === "current") showAgenda(e); },
      session(e) { if (e.op === "state") setStatus(e.status); },
      deliberation(e) { if (e.op === "changed" && e.deliberation) setStatus(e.deliberation.status); },
    },
  });

  media = window.LIVE_MEDIA.attach(room, {
    grid: $("media-grid"),
    button: $("media-start"),
    leave: $("media-leave"),
    state: $("media-state"),
  });
  render();
})();
