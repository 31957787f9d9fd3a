"""The Stripe.js options the test double accepts, extracted from ``@stripe/stripe-js``'s types.

No browser here: the extractor on a small package of declarations, and the
vendored extraction itself.
"""

import json
from pathlib import Path

from tests.browser.stripe_js_contract import extract

VENDORED = json.loads(Path(__file__).with_name("stripe_js_options.json").read_text())

DECLARATIONS = """
/** Comments go. */
type Capture = 'manual' | 'automatic';
interface Base {
  locale?: 'fr' | 'en';
  appearance?: Appearance; // an unknown type stays open
}
interface ModeBase extends Base {
  captureMethod?: Capture;
  allowedPaymentMethodTypes?: string[];
  clientSecret?: never;
}
type StripeElementsOptionsModePayment = ModeBase & {
  mode: 'payment';
  amount: number;
};
export interface StripeConstructorOptions { stripeAccount?: string; }
export interface StripePaymentElementOptions {
  layout?: 'tabs' | {type: 'tabs' | 'auto'; radios?: boolean};
}
"""


def test_the_extractor_reads_interfaces_aliases_unions_and_intersections(tmp_path):
    (tmp_path / "package.json").write_text('{"version": "0.0.1"}')
    types = tmp_path / "dist" / "stripe-js"
    types.mkdir(parents=True)
    (types / "elements.d.ts").write_text(DECLARATIONS)
    (types / "stripe.d.ts").write_text(
        "export interface Stripe { handleNextAction(options: {clientSecret: string}): void; }"
    )

    found = extract(tmp_path)

    assert found["version"] == "0.0.1"
    elements = found["options"]["elements"]
    assert set(elements["keys"]) == {
        "locale",
        "appearance",
        "captureMethod",
        "allowedPaymentMethodTypes",
        "mode",
        "amount",
    }  # clientSecret?: never is no option in this mode
    assert elements["required"] == ["mode", "amount"]
    assert elements["keys"]["captureMethod"] == {"values": ["manual", "automatic"]}
    assert elements["keys"]["appearance"] == {}
    layout = found["options"]["create:payment"]["keys"]["layout"]
    assert layout["values"] == ["tabs"]
    assert layout["keys"]["type"] == {"values": ["tabs", "auto"]}
    assert layout["required"] == ["type"]
    assert found["options"]["handleNextAction"]["required"] == ["clientSecret"]


def test_the_vendored_options_come_from_a_named_version_of_the_official_package():
    assert VENDORED["package"] == "@stripe/stripe-js"
    assert VENDORED["version"] == "10.2.1"  # the latest at the time, 2026-11-02
    assert set(VENDORED["options"]) == {"Stripe", "elements", "create:payment", "handleNextAction"}


def test_the_published_types_have_allowed_payment_method_types_and_no_payment_method_types():
    elements = VENDORED["options"]["elements"]["keys"]
    assert "allowedPaymentMethodTypes" in elements
    assert "excludedPaymentMethodTypes" in elements
    assert "paymentMethodTypes" not in elements
    assert elements["captureMethod"]["values"] == ["manual", "automatic", "automatic_async"]
    assert VENDORED["options"]["elements"]["required"] == ["mode", "amount", "currency"]


def test_the_payment_element_options_the_shop_uses_are_defined():
    options = VENDORED["options"]["create:payment"]["keys"]
    assert "tabs" in options["layout"]["values"]
    assert options["wallets"]["keys"]["applePay"]["values"] == ["auto", "never"]
    assert options["wallets"]["keys"]["googlePay"]["values"] == ["auto", "never"]
    assert "fr" in VENDORED["options"]["Stripe"]["keys"]["locale"]["values"]
