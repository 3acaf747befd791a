/* Info officers enter topics collected on paper, for rooms in their region. */
"use strict";
(function () {
  const { t, api, showErrors, clearErrors, el } = window.MSY;
  const form = document.getElementById("intake-form");
  const select = document.getElementById("room_id");

  async function findRooms() {
    const q = document.getElementById("room-search").value.trim();
    const result = await api("GET", "/api/staff/rooms?limit=50&q=" + encodeURIComponent(q));
    if (!result.ok) return;
    select.replaceChildren(el("option", { value: "" }, t("intake.pick_room")));
    for (const room of result.data.rooms) {
      select.append(el("option", { value: room.id }, room.name + " · " + room.region.names.slice(1).join(" · ")));
    }
    if (result.data.rooms.length === 1) select.value = String(result.data.rooms[0].id);
  }
  document.getElementById("room-find").addEventListener("click", findRooms);
  findRooms();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const result = await api("POST", "/api/staff/topics", new FormData(form));
    if (!result.ok) return showErrors(form, result);
    const note = document.getElementById("entered");
    note.textContent = t("intake.done", { number: result.data.number, url: result.data.tracking_url });
    note.hidden = false;
    const room = select.value;
    form.reset();
    select.value = room;
  });
})();
