// Stripe.js finishes what the PaymentIntent asks (3-D Secure in a frame, or a
// redirect to PayPal or Alipay); then back to the shop, which reads the
// outcome from Stripe on the server, whatever the browser reports.
(function () {
  "use strict";
  var options = JSON.parse(document.getElementById("stripe-options").textContent);
  var section = document.getElementById("stripe-next-action");
  function back() { window.location.assign(options.returnUrl); }
  if (typeof Stripe === "undefined") {
    var errorBox = document.getElementById("stripe-payment-error");
    errorBox.textContent = section.dataset.unavailable;
    errorBox.hidden = false;
    section.removeAttribute("aria-busy");
    return;
  }
  Stripe(options.publishableKey).handleNextAction({ clientSecret: options.clientSecret }).then(back, back);
})();
