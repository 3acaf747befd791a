/* A session's public page: the sign-up form. A registrant's page: cancelling. */
"use strict";
(function () {
  const { t, api, showErrors, clearErrors, errorText } = window.MSY;

  function explain(result) {
    const err = (result.data && result.data.error) || {};
    const fields = err.fields || {};
    if (err.code === "conflict" && fields.phone) return t("delib.signup.phone_taken");
    if (err.code === "conflict" && fields.status) return t("delib.signup.closed");
    return errorText(result);
  }

  const form = document.getElementById("signup-form");
  if (form) form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    const body = {
      name: String(data.get("name") || ""),
      kind: String(data.get("kind") || ""),
      phone: String(data.get("phone") || ""),
      consent: data.get("consent") === "true",
    };
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    const result = await api("POST", "/api/deliberations/" + form.dataset.id + "/registrations", body);
    button.disabled = false;
    if (!result.ok) {
      showErrors(form, result);
      form.querySelector(".form-error").textContent = explain(result);
      return;
    }
    location.href = result.data.url;  // the registrant's own page: status and check-in QR
  });

  const cancel = document.getElementById("cancel-registration");
  if (cancel) cancel.addEventListener("click", async () => {
    if (!confirm(cancel.dataset.confirm)) return;
    cancel.disabled = true;
    const token = document.getElementById("registration").dataset.token;
    const result = await api("POST", "/api/signup/" + encodeURIComponent(token) + "/cancel");
    if (result.ok) { location.reload(); return; }
    document.getElementById("cancel-error").textContent = explain(result);
    cancel.disabled = false;
  });
})();
