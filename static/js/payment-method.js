// The payment step's button says what happens next for the method chosen
// ("Enter card details", "Continue to PayPal"...): each radio carries its words.
(function () {
  var form = document.querySelector("[data-method-form]");
  if (!form) return;
  var button = form.querySelector("[data-method-button]");
  form.addEventListener("change", function (event) {
    var words = event.target.getAttribute("data-button");
    if (event.target.name === "method" && words) button.textContent = words;
  });
  var checked = form.querySelector("input[name=method]:checked");
  if (checked && checked.getAttribute("data-button")) {
    button.textContent = checked.getAttribute("data-button");
  }
})();
