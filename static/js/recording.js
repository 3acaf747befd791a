/* A session recording: open at ?t= (a topic's chapter), jump between chapters without
   reloading, and mark the chapter being played. */
"use strict";
(function () {
  const player = document.getElementById("player");
  const links = Array.from(document.querySelectorAll("#chapters a[data-start]"));
  const start = Number(player.dataset.start || 0);
  if (start > 0) player.addEventListener("loadedmetadata", () => { player.currentTime = start; }, { once: true });
  for (const a of links) {
    a.addEventListener("click", (e) => {
      e.preventDefault();
      player.currentTime = Number(a.dataset.start);
      player.play().catch(() => {});
      history.replaceState(null, "", a.getAttribute("href"));
    });
  }
  player.addEventListener("timeupdate", () => {
    let current = null;
    for (const a of links) if (Number(a.dataset.start) <= player.currentTime + 0.5) current = a;
    for (const a of links) a.classList.toggle("current", a === current);
  });
})();
