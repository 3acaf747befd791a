// The administrator's bulletin page: publish an ended quarter, or a new version of a
// published one with a reason. The server refuses anything else and says why.
"use strict";
(function () {
  const { api, errorText, showErrors, t } = window.MSY;
  const error = document.getElementById("bl-error");

  document.querySelectorAll("[data-publish]").forEach((button) => {
    button.addEventListener("click", async () => {
      const quarter = button.dataset.publish;
      if (!window.confirm(t("bulletin.confirm_publish", { quarter }))) return;
      button.disabled = true;
      const result = await api("POST", "/api/bulletins/" + encodeURIComponent(quarter) + "/publish", {});
      if (result.ok) { window.location.reload(); return; }
      button.disabled = false;
      error.textContent = errorText(result);
    });
  });

  document.querySelectorAll("form.bl-new-version").forEach((form) => {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const quarter = form.dataset.quarter;
      const reason = form.elements.reason.value;
      const result = await api("POST", "/api/bulletins/" + encodeURIComponent(quarter) + "/publish",
        { new_version: true, reason });
      if (result.ok) { window.location.reload(); return; }
      showErrors(form, result);
      const slot = form.querySelector(".form-error");
      if (slot) slot.textContent = errorText(result);
    });
  });
})();
