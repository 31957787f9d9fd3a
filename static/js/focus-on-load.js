// A page that arrives with something to say (an error summary, a message)
// moves focus to it: live regions present at load are not announced by most
// screen readers, focus is. The error summary's links focus their field.
(function () {
  "use strict";
  function start() {
    var target = document.querySelector("[data-error-summary]") ||
      document.querySelector("[data-focus-on-load]");
    if (target) target.focus();
    document.querySelectorAll("[data-error-summary] a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var field = document.getElementById(link.getAttribute("href").slice(1));
        if (!field) return;
        event.preventDefault();
        // Show the field's label (or its group's legend) too, not only the input.
        var group = field.closest("fieldset");
        var label = group ? group.querySelector("legend") : document.querySelector("label[for='" + field.id + "']");
        (label || field).scrollIntoView({ block: "start" });
        field.focus({ preventScroll: true });
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
