/* A topic's page for staff: move it along the workflow. */
"use strict";
(function () {
  const { api, showErrors } = window.MSY;
  const route = document.getElementById("route-form");
  if (route) {
    route.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { version: Number(route.dataset.version), unit_id: Number(route.elements.unit_id.value) };
      const result = await api("POST", "/api/staff/topics/" + route.dataset.topic + "/route", body);
      if (!result.ok) return showErrors(route, result);
      location.reload();
    });
  }
  const classify = document.getElementById("classify-form");
  if (classify) {
    classify.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { version: Number(classify.dataset.version), category: classify.elements.category.value, subject: classify.elements.subject.value };
      const result = await api("POST", "/api/staff/topics/" + classify.dataset.topic + "/classification", body);
      if (!result.ok) return showErrors(classify, result);
      location.reload();
    });
  }
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
