/* Shared by every page: translations, the API helper, form errors, logout. */
"use strict";
(function () {
  const I18N = JSON.parse(document.getElementById("msy-i18n").textContent);

  function t(key, values) {
    let text = I18N[key] || key;
    for (const [k, v] of Object.entries(values || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* Returns {ok, status, data, retryAfter}; never throws on HTTP errors. */
  async function api(method, url, body) {
    const headers = { "X-CSRF-Token": csrfToken() };
    let payload = body;
    if (body !== undefined && !(body instanceof FormData) && typeof body !== "string") {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    } else if (typeof body === "string") {
      headers["Content-Type"] = "text/csv";
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
    } catch (e) {
      return { ok: false, status: 0, data: { error: { code: "network", message: t("error.network"), fields: {} } } };
    }
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("application/json")) data = await response.json();
    return { ok: response.ok, status: response.status, data, retryAfter: response.headers.get("Retry-After") };
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error, .form-error").forEach((el) => { el.textContent = ""; });
    form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  }

  function errorText(result) {
    const err = (result.data && result.data.error) || { code: "http_error", message: String(result.status) };
    if (err.code === "rate_limited") return t("error.rate_limited", { s: result.retryAfter || 60 });
    if (err.code === "payload_too_large") return t("error.payload_too_large");
    if (err.code === "validation_failed" && err.fields && Object.keys(err.fields).length) return t("form.check");
    return err.message;
  }

  function showErrors(form, result) {
    clearErrors(form);
    const err = (result.data && result.data.error) || {};
    for (const [field, message] of Object.entries(err.fields || {})) {
      const slot = form.querySelector('.field-error[data-for="' + field + '"]');
      const input = form.querySelector('[name="' + field + '"]');
      if (input) input.classList.add("invalid");
      if (slot) slot.textContent = message;
    }
    const general = form.querySelector(".form-error");
    if (general) general.textContent = errorText(result);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (v !== null && v !== undefined) node.setAttribute(k, v);
    }
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
    return node;
  }

  function formJson(form) {
    const out = {};
    for (const [k, v] of new FormData(form).entries()) if (typeof v === "string") out[k] = v;
    return out;
  }

  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async (event) => {
      event.preventDefault();
      await api("POST", "/api/auth/logout");
      location.href = "/staff/login";
    });
  }

  /* Times are rendered in UTC by the server; show them in the reader's own zone. */
  document.querySelectorAll("time[data-local]").forEach((node) => {
    node.textContent = new Date(node.dateTime).toLocaleString(document.documentElement.lang,
      { dateStyle: "medium", timeStyle: "short" });
  });

  /* The unread count beside the notifications link; live pages update it too. */
  const unread = document.getElementById("unread");
  function setUnread(n) {
    if (!unread) return;
    unread.textContent = n > 99 ? "99+" : String(n);
    unread.hidden = !n;
  }
  if (unread) {
    api("GET", "/api/staff/notifications?unread=1&limit=1").then((r) => { if (r.ok) setUnread(r.data.unread); });
  }

  window.MSY = { setUnread, t, api, showErrors, clearErrors, errorText, el, formJson };
})();
