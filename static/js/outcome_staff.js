/* An outcome for staff: the responsible unit's progress update (percent, note, photos as
   multipart) and the moderation of evaluation comments (hide with a reason, or show). */
"use strict";
(function () {
  const { api, showErrors } = window.MSY;
  const card = document.getElementById("outcome");
  if (!card) return;

  const progress = document.getElementById("progress-form");
  if (progress) {
    progress.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData();
      data.set("version", card.dataset.version);
      data.set("percent", progress.elements.percent.value);
      data.set("note", progress.elements.note.value);
      for (const file of progress.elements.photos.files) data.append("photos", file);
      const button = progress.querySelector("button[type=submit]");
      button.disabled = true;
      const result = await api("POST", "/api/staff/outcomes/" + card.dataset.id + "/progress", data);
      button.disabled = false;
      if (!result.ok) return showErrors(progress, result);
      location.reload();
    });
  }

  document.querySelectorAll("form.moderation").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const visible = event.submitter && event.submitter.value === "1";
      const reason = form.elements.reason ? form.elements.reason.value : "";
      const result = await api("POST", "/api/staff/evaluations/" + form.dataset.evaluation + "/moderation", { visible, reason });
      if (!result.ok) return showErrors(form, result);
      location.reload();
    });
  });
})();
