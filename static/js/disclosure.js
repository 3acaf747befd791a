// The printable disclosure: a button that opens the browser's print dialog.
"use strict";
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
