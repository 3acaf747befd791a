/* The notifications page: mark them all read. */
"use strict";
(function () {
  const form = document.getElementById("read-all");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await window.MSY.api("POST", "/api/staff/notifications/read", {});
    if (!result.ok) return window.MSY.showErrors(form, result);
    location.reload();
  });
})();
