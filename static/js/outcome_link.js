/* The outcome block on a topic's tracking page (/t/{token}): when the topic has a published
   outcome, link to it with the tracking token, so the rating counts as the proposer's.
   (The topics pages know nothing of outcomes: the outcomes API says which it is.) */
"use strict";
(function () {
  const { api } = window.MSY;
  const block = document.querySelector("[data-outcome-src]");
  if (!block) return;
  const token = decodeURIComponent(location.pathname.split("/").pop() || "");
  api("GET", block.dataset.outcomeSrc).then((result) => {
    if (!result.ok || !result.data.outcome_id) return;
    const link = document.getElementById("outcome-link");
    link.href = "/outcomes/" + result.data.outcome_id + (token ? "?token=" + encodeURIComponent(token) : "");
    block.hidden = false;
  });
})();
