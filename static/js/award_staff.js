// The awards' staff pages: open a year; on a year's page generate candidates, appoint
// reviewers, nominate, accept or decline nominations, score, withdraw, close and publish.
// The server checks every rule and says why it refuses; the page shows that and reloads
// after a change.
"use strict";
(function () {
  const { api, errorText, showErrors, t } = window.MSY;

  function numberOrText(value) {
    const trimmed = String(value).trim();
    return /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
  }

  const openForm = document.getElementById("award-open");
  if (openForm) {
    openForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = {
        year: numberOrText(openForm.elements.year.value),
        excellent: numberOrText(openForm.elements.excellent.value),
        best: numberOrText(openForm.elements.best.value),
      };
      const result = await api("POST", "/api/staff/awards", body);
      if (result.ok) { window.location.href = result.data.url; return; }
      showErrors(openForm, result);
    });
  }

  const round = document.getElementById("award-round");
  if (!round) return;
  const base = "/api/staff/awards/" + encodeURIComponent(round.dataset.year);
  const error = document.getElementById("award-error");

  async function send(method, url, body, form) {
    const result = await api(method, url, body);
    if (result.ok) { window.location.reload(); return; }
    if (form) showErrors(form, result); else error.textContent = errorText(result);
  }

  document.querySelectorAll("button[data-action]").forEach((button) => {
    button.addEventListener("click", async () => {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      button.disabled = true;
      const action = button.dataset.action;
      if (action === "accept") {
        await send("POST", base + "/nominations/" + button.dataset.nomination + "/accept", {});
      } else if (action === "publish") {
        await send("POST", base + "/publish", {});
      } else {
        await send("POST", base + "/" + action, {});
      }
      button.disabled = false;
    });
  });

  document.querySelectorAll("form[data-form]").forEach((form) => {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = form.elements;
      switch (form.dataset.form) {
        case "score":
          await send("PUT", base + "/candidates/" + form.dataset.candidate + "/score",
            { score: numberOrText(f.score.value) }, form);
          break;
        case "withdraw":
          await send("POST", base + "/candidates/" + form.dataset.candidate + "/withdraw",
            { reason: f.reason.value }, form);
          break;
        case "decline":
          await send("POST", base + "/nominations/" + form.dataset.nomination + "/decline",
            { reason: f.reason.value }, form);
          break;
        case "reviewer":
          await send("POST", base + "/reviewers", { username: f.username.value }, form);
          break;
        case "new-version":
          await send("POST", base + "/publish", { new_version: true, reason: f.reason.value }, form);
          break;
        case "nominate": {
          const body = { kind: f.kind.value, organisation: f.organisation.value, reasons: f.reasons.value };
          if (f.kind.value === "case") body.topic_number = f.topic_number.value;
          else body.room_id = f.room_id.value ? numberOrText(f.room_id.value) : null;
          if (f.kind.value === "resident") { body.name = f.name.value; body.phone = f.phone.value; }
          await send("POST", base + "/nominations", body, form);
          break;
        }
        default:
          error.textContent = t("form.check");
      }
    });
  });
})();
