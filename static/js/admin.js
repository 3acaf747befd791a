/* Admin pages: accounts, regions, rooms, codes and CSV import. */
"use strict";
(function () {
  const { t, api, showErrors, formJson } = window.MSY;

  function on(id, handler) {
    const form = document.getElementById(id);
    if (form) form.addEventListener("submit", async (event) => { event.preventDefault(); await handler(form); });
  }

  on("user-form", async (form) => {
    const body = formJson(form);
    body.region_id = Number(body.region_id);
    const result = await api("POST", "/api/staff/users", body);
    if (!result.ok) return showErrors(form, result);
    const otp = document.getElementById("otp");
    otp.textContent = t("users.otp", { user: result.data.user.username, otp: result.data.one_time_password });
    otp.hidden = false;
    form.reset();
  });

  document.querySelectorAll("[data-reset]").forEach((button) => button.addEventListener("click", async () => {
    const result = await api("POST", "/api/staff/users/" + encodeURIComponent(button.dataset.reset) + "/reset-password");
    const otp = document.getElementById("otp");
    otp.textContent = result.ok ? t("users.otp", { user: button.dataset.reset, otp: result.data.one_time_password }) : result.data.error.message;
    otp.hidden = false;
  }));

  on("region-form", async (form) => {
    const body = formJson(form);
    body.parent_id = Number(body.parent_id);
    const result = await api("POST", "/api/staff/regions", body);
    if (!result.ok) return showErrors(form, result);
    location.reload();
  });

  document.querySelectorAll("[data-rename]").forEach((button) => button.addEventListener("click", async () => {
    const name = prompt(t("regions.rename_prompt"), button.dataset.name);
    if (!name || name === button.dataset.name) return;
    const result = await api("PATCH", "/api/staff/regions/" + button.dataset.rename, { name });
    if (result.ok) location.reload(); else alert(result.data.error.message);
  }));

  on("room-form", async (form) => {
    const body = formJson(form);
    body.region_id = Number(body.region_id);
    const result = await api("PATCH", "/api/staff/rooms/" + form.dataset.room, body);
    if (!result.ok) return showErrors(form, result);
    location.reload();
  });

  const rotate = document.getElementById("rotate");
  if (rotate) rotate.addEventListener("click", async () => {
    if (!confirm(t("rooms.rotate_confirm"))) return;
    const result = await api("POST", "/api/staff/rooms/" + rotate.dataset.room + "/rotate-code");
    if (result.ok) location.reload(); else alert(result.data.error.message);
  });

  document.querySelectorAll("[data-revoke]").forEach((button) => button.addEventListener("click", async () => {
    const result = await api("POST", "/api/staff/room-codes/" + encodeURIComponent(button.dataset.revoke) + "/revoke");
    if (result.ok) location.reload(); else alert(result.data.error.message);
  }));

  on("import-form", async (form) => {
    const out = document.getElementById("import-result");
    const result = await api("POST", "/api/staff/rooms/import", new FormData(form));
    out.hidden = false;
    if (!result.ok) {
      showErrors(form, result);
      out.textContent = (result.data && result.data.error.fields && result.data.error.fields.file) || "";
      return;
    }
    const d = result.data;
    out.textContent = t("import.done", { regions: d.regions_created, created: d.rooms_created, updated: d.rooms_updated, unchanged: d.rooms_unchanged });
  });
})();
