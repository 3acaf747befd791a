/* The resident's form: raise a topic, then show its number and private tracking link. */
"use strict";
(function () {
  const { t, api, showErrors, clearErrors } = window.MSY;
  const form = document.getElementById("topic-form");
  const done = document.getElementById("submitted");
  const button = form.querySelector('button[type="submit"]');
  const maxPhotos = Number(form.dataset.maxPhotos);
  const maxBytes = Number(form.dataset.maxMb) * 1024 * 1024;

  function checkPhotos() {
    const files = Array.from(document.getElementById("photos").files);
    if (files.length > maxPhotos) return t("topic.too_many_photos", { n: maxPhotos });
    if (files.some((f) => f.size > maxBytes)) return t("topic.photo_too_big", { mb: form.dataset.maxMb });
    return "";
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const photoProblem = checkPhotos();
    if (photoProblem) {
      form.querySelector('.field-error[data-for="photos"]').textContent = photoProblem;
      return;
    }
    button.disabled = true;
    button.textContent = t("topic.submitting");
    const result = await api("POST", "/api/rooms/" + encodeURIComponent(form.dataset.code) + "/topics", new FormData(form));
    button.disabled = false;
    button.textContent = t("topic.submit");
    if (!result.ok) {
      showErrors(form, result);
      return;
    }
    document.getElementById("submitted-number").textContent = result.data.number;
    const link = document.getElementById("tracking-link");
    link.href = result.data.tracking_url;
    link.textContent = result.data.tracking_url;
    form.hidden = true;
    done.hidden = false;
    done.scrollIntoView({ behavior: "smooth" });
  });

  document.getElementById("another").addEventListener("click", () => {
    form.reset();
    form.hidden = false;
    done.hidden = true;
  });
})();
