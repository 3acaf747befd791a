/* The routing page (派单规则): add receiving units, set and delete routing rules. */
"use strict";
(function () {
  const { t, api, showErrors, clearErrors, errorText, formJson } = window.MSY;

  function conflictAware(form, result) {
    showErrors(form, result);
    const err = (result.data && result.data.error) || {};
    if (err.code === "conflict") form.querySelector(".form-error").textContent = t("routing.unit_taken");
  }

  const unitForm = document.getElementById("unit-form");
  if (unitForm) {
    unitForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(unitForm);
      const body = formJson(unitForm);
      body.region_id = Number(body.region_id);
      const button = unitForm.querySelector("button[type=submit]");
      button.disabled = true;
      const result = await api("POST", "/api/staff/units", body);
      button.disabled = false;
      if (!result.ok) return conflictAware(unitForm, result);
      location.reload();
    });
  }

  /* A rule's unit must serve its region: offer only units of that region or above it. */
  const ruleForm = document.getElementById("rule-form");
  const regionSelect = document.getElementById("rule-region");
  const unitSelect = document.getElementById("rule-unit");

  function filterUnits() {
    const chosen = regionSelect.selectedOptions[0];
    const path = chosen ? chosen.dataset.path : "";
    for (const option of unitSelect.options) {
      if (!option.value) continue;
      const serves = path.startsWith(option.dataset.path);
      option.hidden = !serves;
      option.disabled = !serves;
    }
    if (unitSelect.selectedOptions[0] && unitSelect.selectedOptions[0].disabled) unitSelect.value = "";
  }

  regionSelect.addEventListener("change", filterUnits);
  filterUnits();

  ruleForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(ruleForm);
    const body = formJson(ruleForm);
    body.region_id = Number(body.region_id);
    body.unit_id = body.unit_id ? Number(body.unit_id) : null;
    const button = ruleForm.querySelector("button[type=submit]");
    button.disabled = true;
    const result = await api("POST", "/api/staff/routing-rules", body);
    button.disabled = false;
    if (!result.ok) return showErrors(ruleForm, result);
    location.reload();
  });

  const rulesError = document.getElementById("rules-error");
  document.querySelectorAll("[data-delete-rule]").forEach((button) => button.addEventListener("click", async () => {
    if (!confirm(t("routing.delete_confirm"))) return;
    rulesError.textContent = "";
    button.disabled = true;
    const result = await api("DELETE", "/api/staff/routing-rules/" + button.dataset.deleteRule);
    if (!result.ok) {
      button.disabled = false;
      rulesError.textContent = errorText(result);
      return;
    }
    button.closest("tr").remove();
    const left = document.querySelectorAll("#rules tbody tr").length;
    document.querySelector("#rules-card h2 small").textContent = "(" + left + ")";
    if (!left) {
      document.getElementById("rules").hidden = true;
      document.getElementById("no-rules").hidden = false;
    }
  }));
})();
