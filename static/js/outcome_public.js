/* Rating a published outcome (评题): a score, a verdict and an optional comment, once per
   identity. A tracking link's token (?token=…) is sent along so the rating counts as the
   proposer's. The counts beside the rate update from the answer. */
"use strict";
(function () {
  const { api, showErrors, clearErrors, t, el } = window.MSY;
  const card = document.getElementById("outcome");
  const form = document.getElementById("rate-form");
  if (!card || !form) return;
  const token = new URLSearchParams(location.search).get("token");
  const rated = document.getElementById("rated");

  function showCounts(s) {
    for (const name of ["satisfied", "basically_satisfied", "unsatisfied", "total"]) {
      const slot = document.querySelector('#counts [data-count="' + name + '"]');
      if (slot) slot.textContent = String(s[name]);
    }
    document.getElementById("rate").textContent = s.rate === null ? "—" : (s.rate * 100).toFixed(1) + "%";
  }

  function done(message) {
    form.hidden = true;
    rated.textContent = message;
    rated.hidden = false;
  }

  function addComment(e) {
    if (!e.comment || e.status !== "visible") return;
    const meta = "★".repeat(e.score) + " · " + t("outcomes.verdict." + e.verdict);
    const item = el("li", { class: "oc-comment fresh" },
      el("span", { class: "oc-comment-meta" }, meta, e.proposer ? " · " : "", e.proposer ? el("strong", {}, t("outcomes.proposer")) : ""),
      el("p", {}, e.comment));
    document.querySelector("#comments .oc-comments").prepend(item);
    document.getElementById("no-comments").hidden = true;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const score = form.querySelector('input[name="score"]:checked');
    const verdict = form.querySelector('input[name="verdict"]:checked');
    const body = {
      score: score ? Number(score.value) : null,
      verdict: verdict ? verdict.value : null,
      comment: form.elements.comment.value,
    };
    if (token) body.token = token;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const result = await api("POST", "/api/outcomes/" + card.dataset.id + "/evaluations", body);
    button.disabled = false;
    if (result.status === 409) return done(t("outcomes.rate.already"));
    if (!result.ok) return showErrors(form, result);
    showCounts(result.data.satisfaction);
    api("GET", "/api/outcomes/" + card.dataset.id).then((fresh) => {
      if (fresh.ok && fresh.data.score_average !== null) {
        document.getElementById("score-average").textContent = fresh.data.score_average.toFixed(1);
      }
    });
    addComment(result.data.evaluation);
    let message = t("outcomes.rate.thanks");
    if (result.data.evaluation.status === "held") message += " " + t("outcomes.rate.held");
    if (result.data.reopened) message += " " + t("outcomes.rate.reopened");
    done(message);
  });
})();
