"""The Stripe checkout in a browser: our Payment Element page and next-action page drive
Stripe.js; here Stripe.js is a test double served in place of https://js.stripe.com/v3/
and Stripe's API is the in-memory fake, so nothing leaves the machine."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from orders.models import Order, OrderStatus
from payments.models import Payment, PaymentStatus
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_journey import add_dress_and_checkout
from tests.factories import ProductVariantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The options Stripe.js accepts, extracted from @stripe/stripe-js's TypeScript types
# (tests/browser/stripe_js_contract.py says how; the file names the version).
STRIPE_JS_OPTIONS = Path(__file__).with_name("stripe_js_options.json")

# Stands in for Stripe.js: the calls stripe-payment.js and stripe-next-action.js make,
# with the ConfirmationToken and the next action done by the test (exposed functions).
# Like Stripe.js, it throws an IntegrationError for an option the published types do not
# define or a value outside their enum (Elements is then not created).
STRIPE_JS_DOUBLE = """
window.stripeSeen = {integrationErrors: []};
function stripeIntegrationError(message) {
  window.stripeSeen.integrationErrors.push(message);
  var error = new Error(message);
  error.name = "IntegrationError";
  throw error;
}
function stripeCheckOptions(where, value, spec, path) {
  if (value === undefined || value === null || !spec) { return; }
  if (spec.values && typeof value === "string") {
    if (spec.values.indexOf(value) < 0) {
      stripeIntegrationError("Invalid value for " + where + ": " + path + " should be one of " +
        spec.values.join(", ") + ". You specified: " + value + ".");
    }
    return;
  }
  if (spec.keys && typeof value === "object" && !Array.isArray(value)) {
    Object.keys(value).forEach(function (key) {
      if (!Object.prototype.hasOwnProperty.call(spec.keys, key)) {
        stripeIntegrationError("Invalid " + where + " parameter: " + path + key +
          " is not an accepted parameter.");
      }
      stripeCheckOptions(where, value[key], spec.keys[key], path + key + ".");
    });
    (spec.required || []).forEach(function (key) {
      if (!(key in value)) {
        stripeIntegrationError("Missing value for " + where + ": " + path + key + " is required.");
      }
    });
  }
}
window.Stripe = function (publishableKey, options) {
  var accepted = window.STRIPE_JS_OPTIONS.options;
  window.stripeSeen.publishableKey = publishableKey;
  window.stripeSeen.options = options;
  stripeCheckOptions("Stripe()", options, accepted["Stripe"], "");
  return {
    elements: function (elementsOptions) {
      window.stripeSeen.elements = elementsOptions;
      stripeCheckOptions("elements()", elementsOptions, accepted["elements"], "");
      return {
        create: function (type, createOptions) {
          stripeCheckOptions("create('" + type + "')", createOptions, accepted["create:" + type], "");
          var handlers = {};
          return {
            on: function (name, handler) { handlers[name] = handler; },
            mount: function (selector) {
              document.querySelector(selector).innerHTML =
                '<label for="double-card">Card (Stripe.js test double)</label>' +
                '<input id="double-card" autocomplete="off">';
              if (handlers.ready) { setTimeout(handlers.ready, 0); }
            }
          };
        },
        submit: function () { return Promise.resolve({}); }
      };
    },
    createConfirmationToken: function () {
      return window.makeConfirmationToken().then(function (id) {
        return {confirmationToken: {id: id}};
      });
    },
    handleNextAction: function (options) {
      stripeCheckOptions("handleNextAction()", options, accepted["handleNextAction"], "");
      return window.finishNextAction(options.clientSecret).then(function () { return {}; });
    }
  };
};
"""


@pytest.fixture
def stripe_page(page, stripe_fake):
    page.route(
        re.compile(r"^https://js\.stripe\.com/"),
        lambda route: route.fulfill(
            status=200,
            content_type="application/javascript",
            body=f"window.STRIPE_JS_OPTIONS = {STRIPE_JS_OPTIONS.read_text()};\n"
            + STRIPE_JS_DOUBLE,
        ),
    )
    return page


def test_paying_by_card_with_3d_secure_through_stripe_js(stripe_page, stripe_fake, live_server):
    page = stripe_page
    ProductVariantFactory(
        product__name="Robe portefeuille", product__price_amount=12900, size="M", stock=4
    )
    page.expose_function(
        "makeConfirmationToken",
        lambda: stripe_fake.create_confirmation_token("pm_card_authenticationRequired"),
    )
    secrets = []

    def finish_next_action(client_secret: str) -> None:
        secrets.append(client_secret)
        stripe_fake.complete_action(client_secret.split("_secret_")[0])

    page.expose_function("finishNextAction", finish_next_action)

    add_dress_and_checkout(page, live_server.url)
    page.get_by_role("radio", name=re.compile("^Card Visa")).check()
    page.get_by_role("button", name="Enter card details").click()

    expect(page.get_by_label("Card (Stripe.js test double)")).to_be_visible()
    assert_accessible(page, "Stripe payment page")
    seen = page.evaluate("window.stripeSeen")
    assert seen["publishableKey"].startswith("pk_test_")
    assert seen["elements"]["captureMethod"] == "manual"
    assert seen["elements"]["amount"] == 12900 + 690
    assert seen["elements"]["allowedPaymentMethodTypes"] == ["card"]
    assert seen["integrationErrors"] == []  # every option is one Stripe.js defines
    # The double refuses what Stripe.js (endive) refuses, as the real one would.
    refused = page.evaluate(
        """() => {
          try {
            Stripe("pk_test_x").elements(
              {mode: "payment", amount: 100, currency: "eur", paymentMethodTypes: ["card"]});
          } catch (error) { return error.name + ": " + error.message; }
          return null;
        }"""
    )
    assert refused == (
        "IntegrationError: Invalid elements() parameter: paymentMethodTypes is not an "
        "accepted parameter."
    )
    page.get_by_role("button", name="Continue to review").click()

    expect(page.get_by_test_id("card")).to_contain_text("Visa")
    page.get_by_role("button", name=re.compile("Place order")).click()

    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    payment = Payment.objects.get()
    assert secrets == [stripe_fake.get(payment.provider_reference)["client_secret"]]
    assert payment.status == PaymentStatus.AUTHORIZED
    assert Order.objects.get().status == OrderStatus.CONFIRMED


def test_the_next_action_page_is_accessible_and_says_what_is_happening(
    stripe_page, stripe_fake, live_server
):
    page = stripe_page
    ProductVariantFactory(
        product__name="Robe portefeuille", product__price_amount=12900, size="M", stock=4
    )
    page.expose_function(
        "makeConfirmationToken", lambda: stripe_fake.create_confirmation_token("pm_paypal")
    )
    # PayPal's window stays open: the page waits.
    page.add_init_script(
        "window.finishNextAction = function () { return new Promise(function () {}); };"
    )

    add_dress_and_checkout(page, live_server.url)
    page.get_by_label("PayPal").check()
    page.get_by_role("button", name="Continue to PayPal").click()
    page.get_by_role("button", name="Continue to review").click()
    page.get_by_role("button", name=re.compile("Place order")).click()

    expect(page.get_by_role("heading", name="Confirm the payment")).to_be_visible()
    # Stripe.js is deferred: the heading shows before the page has called it.
    page.wait_for_function("() => window.stripeSeen && 'publishableKey' in window.stripeSeen")
    assert page.evaluate("window.stripeSeen.integrationErrors") == []
    assert_accessible(page, "Stripe next-action page")
    expect(page.get_by_role("link", name="Back to the shop")).to_be_visible()
