// Sandbox card page: show the brand while the number is typed, and group digits.
(function () {
  "use strict";
  var number = document.getElementById("id_number");
  var brand = document.getElementById("card-brand");
  var code = document.getElementById("id_security_code");
  if (!number || !brand) return;

  function detect(digits) {
    if (/^4/.test(digits)) return "Visa";
    if (/^3[47]/.test(digits)) return "American Express";
    if (/^(5[1-5]|2(2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720))/.test(digits)) return "Mastercard";
    return null;
  }

  function format(digits, name) {
    if (name === "American Express") {
      return [digits.slice(0, 4), digits.slice(4, 10), digits.slice(10, 15)].filter(Boolean).join(" ");
    }
    return digits.replace(/(\d{4})(?=\d)/g, "$1 ");
  }

  function update() {
    var digits = number.value.replace(/\D/g, "").slice(0, 19);
    var name = detect(digits);
    brand.textContent = name || brand.dataset.unknown;
    brand.dataset.brand = name || "";
    number.value = format(digits, name);
    if (code) code.maxLength = name === "American Express" ? 4 : 3;
  }

  number.addEventListener("input", update);
  update(); // digits typed before this script ran
})();
