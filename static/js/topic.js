/* A topic's page for staff: move it along the workflow. */
"use strict";
(function () {
  const { api, showErrors } = window.MSY;
  const form = document.getElementById("move-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const to = event.submitter ? event.submitter.value : "";
    const body = { to, version: Number(form.dataset.version), note: form.elements.note.value };
    const result = await api("POST", "/api/staff/topics/" + form.dataset.topic + "/moves", body);
    if (!result.ok) return showErrors(form, result);
    location.reload();
  });
})();
