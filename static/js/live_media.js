/* Video link (视频连线) for the host console (the room's camera and microphone) and the guest
   page. One RTCPeerConnection with the server: it offers this device's camera and microphone
   and `slots` receive pairs; the server answers and fills the slots with the others as they
   come and go, telling us who is in which slot (media "slots" events), so nobody renegotiates.
   The offer goes once ICE gathering is done (no trickle). A failed connection, a reconnected
   socket or a second start makes a new peer and offers again.

   window.LIVE_MEDIA.attach(room, {grid, button, leave, state, onStatus}) → {setConfig(config),
   applyStatus(status), stop()}. Every piece of user text goes in as text. */
"use strict";
(function () {
  const { t, el } = window.MSY;
  const L = window.LIVE;

  function attach(room, ui) {
    let config = null;      // {ice_servers, slots} from the snapshot
    let pc = null;
    let local = null;       // MediaStream of this device
    let wanted = false;     // the user pressed start and not leave
    let state = "idle";     // idle | starting | connecting | connected | failed | no-device
    let slots = {};         // mid -> {participant, name, role, kind}
    const byMid = {};       // mid -> MediaStreamTrack received
    let spotlight = null;
    let retry = null;

    function setState(next, detail) {
      state = next;
      ui.state.textContent = t("live.media.state." + next) + (detail ? " · " + detail : "");
      ui.state.className = "media-state media-" + next;
      ui.button.hidden = wanted;
      ui.leave.hidden = !wanted;
    }

    function tiles() {
      // One tile per participant in our slots, plus our own preview (muted, mirrored).
      const people = new Map();
      for (const [mid, s] of Object.entries(slots)) {
        const p = people.get(s.participant) || { name: s.name, role: s.role, tracks: [] };
        if (byMid[mid]) p.tracks.push(byMid[mid]);
        people.set(s.participant, p);
      }
      ui.grid.replaceChildren();
      if (local) ui.grid.append(tile("self", t("live.media.me"), "", local, true));
      for (const [id, p] of people) {
        ui.grid.append(tile(id, p.name, p.role, new MediaStream(p.tracks), false));
      }
      ui.grid.dataset.count = String(people.size + (local ? 1 : 0));
    }

    function tile(id, name, role, stream, self) {
      const video = el("video", { autoplay: "", playsinline: "" });
      video.muted = self;  // never hear yourself
      video.srcObject = stream;
      video.dataset.participant = id;
      const label = el("figcaption", {}, el("strong", {}, name), role ? " · " + role : "");
      const figure = el("figure", { class: "media-tile" + (self ? " self" : "") + (id === spotlight ? " spotlight" : "") }, video, label);
      video.play().catch(() => {});  // autoplay may wait for a tap on some phones
      return figure;
    }

    async function camera() {
      try {
        return await navigator.mediaDevices.getUserMedia({
          audio: true,
          video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30 } },
        });
      } catch (e) {
        console.warn("no camera or microphone:", e);
        return null;
      }
    }

    function gathered(peer) {
      if (peer.iceGatheringState === "complete") return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => { if (peer.iceGatheringState === "complete") resolve(); };
        peer.addEventListener("icegatheringstatechange", done);
        setTimeout(resolve, 3000);  // offer what we have
      });
    }

    async function join() {
      if (!config || !wanted) return;
      clearTimeout(retry);
      close();
      setState("starting");
      if (!local) local = await camera();
      if (!wanted) return;
      if (!local) setState("no-device");
      const peer = new RTCPeerConnection({ iceServers: config.ice_servers, bundlePolicy: "max-bundle" });
      pc = peer;
      if (local) for (const track of local.getTracks()) peer.addTransceiver(track, { direction: "sendonly", streams: [local] });
      for (let i = 0; i < config.slots; i++) {
        peer.addTransceiver("audio", { direction: "recvonly" });
        peer.addTransceiver("video", { direction: "recvonly" });
      }
      peer.ontrack = (e) => { byMid[e.transceiver.mid] = e.track; tiles(); };
      peer.onconnectionstatechange = () => {
        if (peer !== pc) return;
        const s = peer.connectionState;
        if (s === "connected") setState("connected");
        else if (s === "failed") { setState("failed"); retry = setTimeout(join, 2000); }
      };
      await peer.setLocalDescription(await peer.createOffer());
      await gathered(peer);
      if (peer !== pc) return;
      setState("connecting");
      const ack = await room.call("media", "offer", { sdp: peer.localDescription.sdp });
      if (peer !== pc) return;
      if (!ack.ok) {
        setState("failed", L.errorText(ack.error, "media", "offer"));
        return;
      }
      await peer.setRemoteDescription({ type: "answer", sdp: ack.answer });
      tiles();
    }

    function close() {
      if (pc) { pc.close(); pc = null; }
      for (const mid of Object.keys(byMid)) delete byMid[mid];
    }

    function stop() {
      wanted = false;
      clearTimeout(retry);
      if (pc) room.call("media", "bye");
      close();
      if (local) { for (const track of local.getTracks()) track.stop(); local = null; }
      slots = {};
      tiles();
      setState("idle");
    }

    room.socket.on("media", (e) => {
      if (!e) return;
      if (e.op === "slots") { slots = e.slots || {}; tiles(); }
      else if (e.op === "muted" && local) {
        for (const track of local.getAudioTracks()) track.enabled = !e.muted;
        ui.state.textContent = t(e.muted ? "live.media.muted_by_host" : "live.media.state." + state);
      } else if (e.op === "status") applyStatus(e);
    });
    room.socket.on("connect", () => { if (wanted && config) join(); });  // a new socket: offer again

    function applyStatus(status) {
      spotlight = status.spotlight || null;
      for (const figure of ui.grid.querySelectorAll(".media-tile")) {
        const video = figure.querySelector("video");
        figure.classList.toggle("spotlight", !!video && video.dataset.participant === spotlight);
      }
      if (ui.onStatus) ui.onStatus(status);
    }

    ui.button.addEventListener("click", () => { wanted = true; join(); });
    ui.leave.addEventListener("click", stop);
    setState("idle");

    const api = {
      setConfig(next) { config = next || null; ui.button.disabled = !config; },
      applyStatus,
      stop,
      peer() { return pc; },  // for diagnostics (getStats) and the browser tests
    };
    window.LIVE_MEDIA.current = api;
    return api;
  }

  window.LIVE_MEDIA = { attach };
})();
