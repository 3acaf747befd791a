"use strict";
document.getElementById("code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const code = document.getElementById("room-code").value.trim().toUpperCase();
  if (code) location.href = "/r/" + encodeURIComponent(code);
});
