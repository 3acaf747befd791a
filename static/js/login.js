"use strict";
(function () {
  const { api, showErrors, formJson } = window.MSY;
  const login = document.getElementById("login-form");
  if (login) {
    login.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await api("POST", "/api/auth/login", formJson(login));
      if (!result.ok) return showErrors(login, result);
      const next = login.dataset.next || "/staff/";
      location.href = result.data.must_change_password ? "/staff/password" : (next.startsWith("/") && !next.startsWith("//") ? next : "/staff/");
    });
  }
  const password = document.getElementById("password-form");
  if (password) {
    password.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await api("POST", "/api/auth/password", formJson(password));
      if (!result.ok) return showErrors(password, result);
      location.href = "/staff/";
    });
  }
})();
