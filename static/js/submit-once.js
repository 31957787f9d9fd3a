// Forms marked data-once cannot be sent twice by a double click.
document.querySelectorAll("form[data-once]").forEach(function (form) {
  "use strict";
  form.addEventListener("submit", function (event) {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  });
});
