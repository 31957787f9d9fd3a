// The Payment Element (Stripe.js) for the method chosen at checkout. The
// details go from Stripe's frames to Stripe; the shop gets back only a
// ConfirmationToken id, and makes the PaymentIntent itself at "Place order".
(function () {
  "use strict";
  var options = JSON.parse(document.getElementById("stripe-options").textContent);
  var form = document.getElementById("stripe-payment-form");
  var button = document.getElementById("stripe-payment-submit");
  var errorBox = document.getElementById("stripe-payment-error");

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    button.disabled = false;
    form.removeAttribute("aria-busy");
    delete form.dataset.sent;
  }

  if (typeof Stripe === "undefined") {
    showError(form.dataset.unavailable);
    return;
  }
  var stripe = Stripe(options.publishableKey, { locale: options.locale });
  var elements = stripe.elements({
    mode: "payment",
    amount: options.amount,
    currency: options.currency,
    captureMethod: options.captureMethod,
    allowedPaymentMethodTypes: options.allowedPaymentMethodTypes,
    locale: options.locale
  });
  var payment = elements.create("payment", {
    layout: "tabs",
    wallets: {
      applePay: options.wallet === "apple_pay" ? "auto" : "never",
      googlePay: options.wallet === "google_pay" ? "auto" : "never"
    }
  });
  payment.on("ready", function () { button.disabled = false; });
  payment.on("loaderror", function (event) { showError(event.error.message); });
  payment.mount("#payment-element");

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (form.dataset.sent) { return; }
    form.dataset.sent = "1";
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    errorBox.hidden = true;
    elements.submit().then(function (submitted) {
      if (submitted.error) { showError(submitted.error.message); return null; }
      return stripe.createConfirmationToken({ elements: elements });
    }).then(function (result) {
      if (result === null) { return; }
      if (result.error) { showError(result.error.message); return; }
      var back = new URL(options.returnUrl, window.location.href);
      back.searchParams.set("session_id", result.confirmationToken.id);
      window.location.assign(back.toString());
    }).catch(function () { showError(form.dataset.unavailable); });
  });
})();
