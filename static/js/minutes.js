/* The host's minutes (会议纪要): save the text and each agenda topic's outcome (PUT, with the
   version loaded), then publish after a confirmation. A topic whose fields are all empty
   is left out of the save; a partly filled one is sent and its errors shown beside it. */
"use strict";
(function () {
  const { api, showErrors, clearErrors } = window.MSY;
  const card = document.getElementById("minutes");
  const form = document.getElementById("minutes-form");
  if (!card || !form) return;
  const url = "/api/staff/deliberations/" + card.dataset.id + "/minutes";
  let version = Number(card.dataset.version);
  const saved = document.getElementById("saved");

  function outcomes() {
    const found = [];
    form.querySelectorAll("fieldset.oc-topic[data-topic]").forEach((set) => {
      const id = set.dataset.topic;
      const field = (name) => set.querySelector('[name="outcomes.' + id + "." + name + '"]');
      if (!field("decision")) return; // a handler's outcome, shown read-only
      const decision = field("decision").value, unit = field("unit_id").value;
      const lead = field("lead").value, due = field("due_on").value;
      if (!decision.trim() && !unit && !lead.trim() && !due) return;
      found.push({
        topic_id: Number(id),
        decision,
        unit_id: unit ? Number(unit) : null,
        lead,
        due_on: due || null,
      });
    });
    return found;
  }

  async function save() {
    const body = { version, body: form.elements.body.value, outcomes: outcomes() };
    const result = await api("PUT", url, body);
    if (!result.ok) { showErrors(form, result); return false; }
    version = result.data.version;
    card.dataset.version = String(version);
    return true;
  }

  form.addEventListener("input", () => { if (saved) saved.hidden = true; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    const publishing = button && button.value === "publish";
    if (publishing && !confirm(button.dataset.confirm)) return;
    form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      clearErrors(form);
      if (!(await save())) return;
      if (!publishing) { if (saved) saved.hidden = false; return; }
      const result = await api("POST", url + "/publish", { version });
      if (!result.ok) return showErrors(form, result);
      location.reload();
    } finally {
      form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  });
})();
