// Forms marked data-once cannot be sent twice by a double click. The buttons
// stay enabled while the form is sent: a disabled button would drop its own
// name and value from the submission.
document.querySelectorAll("form[data-once]").forEach(function (form) {
  "use strict";
  form.addEventListener("submit", function (event) {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    form.setAttribute("aria-busy", "true");
  });
});
