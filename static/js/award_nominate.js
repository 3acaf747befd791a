// A resident's self-nomination for the year's excellent residents (十佳百优). The server
// validates every field, refuses a second nomination of the same phone and rate-limits.
"use strict";
(function () {
  const { api, showErrors, clearErrors } = window.MSY;
  const form = document.getElementById("award-nominate");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const f = form.elements;
    const body = { name: f.name.value, phone: f.phone.value, room_code: f.room_code.value, reasons: f.reasons.value };
    const result = await api("POST", "/api/awards/" + encodeURIComponent(form.dataset.year) + "/nominations", body);
    if (result.ok) {
      form.hidden = true;
      document.getElementById("award-nominated").hidden = false;
      return;
    }
    showErrors(form, result);
  });
})();
