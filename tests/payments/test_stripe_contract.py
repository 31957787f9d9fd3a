"""The contract the Stripe fake enforces, read from the ``stripe`` library's generated types."""

import re
from pathlib import Path
from typing import Any

import pytest
import stripe

from tests.payments import stripe_contract as contract
from tests.payments.stripe_fake import API_VERSION, ROUTES, TEST_PAYMENT_METHODS, StripeFake

TEST_DECLINES = [m.decline for m in TEST_PAYMENT_METHODS.values() if m.decline is not None]

RETURN_URL = "https://shop.example/fr/checkout/return/?order=A1&step=2"


def refusal(method: str, path: str, params: dict[str, Any]) -> contract.ContractError:
    with pytest.raises(contract.ContractError) as refused:
        contract.validate(method, path, params)
    return refused.value


def create(**extra: Any) -> dict[str, Any]:
    """What the shop's provider sends to authorize a card (form-decoded), plus ``extra``."""
    params: dict[str, Any] = {
        "amount": "10000",
        "currency": "eur",
        "confirm": "true",
        "confirmation_token": "ctoken_1",
        "return_url": RETURN_URL,
        "capture_method": "manual",
        "allowed_payment_method_types": ["card"],
        "metadata": {"order_number": "A1", "operation": "authorize-payment-1"},
        "expand": ["latest_charge", "review"],
        "payment_method_options": {
            "card": {"capture_method": "manual", "request_multicapture": "if_available"}
        },
    }
    params.update(extra)
    return params


# Where the contract comes from ----------------------------------------------------


def test_the_contract_is_the_pinned_versions():
    assert contract.API_VERSION == stripe.api_version == API_VERSION == "2026-10-28.endive"


def test_every_route_the_fake_serves_is_an_operation_of_the_library_read_in_full():
    for method, pattern, _, implemented in ROUTES:
        path = re.sub(r"\(\[\^/\]\+\)", "x_1", pattern)
        operation = contract.operation(method, path)
        assert contract.walk(operation.params) >= 1  # every nested type has a rule
        # What the fake implements is what Stripe accepts, never more.
        assert set(implemented) <= set(operation.params.fields), (method, pattern)
        assert "expand" in operation.params.fields


def test_operations_are_matched_on_the_library_s_paths():
    assert contract.operation("POST", "/v1/payment_intents/pi_1/capture").params.name == (
        "PaymentIntentCaptureParams"
    )
    # A literal path wins over one with an id in it.
    assert contract.operation("GET", "/v1/payment_intents/search").path == (
        "/v1/payment_intents/search"
    )
    assert contract.operation("GET", "/v1/payment_intents/pi_1").path == (
        "/v1/payment_intents/{intent}"
    )
    with pytest.raises(LookupError):
        contract.operation("POST", "/v1/no_such_things")


def test_the_library_s_own_request_options_are_not_parameters():
    fields = contract.operation("POST", "/v1/payment_intents").params.fields
    assert "idempotency_key" not in fields
    assert "api_key" not in fields
    assert fields["amount"][1] and fields["currency"][1]  # required
    assert not fields["capture_method"][1]


# What it accepts ------------------------------------------------------------------


def test_the_shop_s_authorization_is_within_the_contract():
    contract.validate("POST", "/v1/payment_intents", create())
    # Alipay, taken at once, and an emptied option ("" unsets, where the types allow it).
    contract.validate(
        "POST",
        "/v1/payment_intents",
        create(
            capture_method="automatic",
            allowed_payment_method_types=["alipay"],
            payment_method_options={"card": ""},
        ),
    )


def test_metadata_keys_can_be_unset_with_an_empty_value():
    contract.validate("POST", "/v1/payment_intents/pi_1/capture", {"metadata": {"a": ""}})
    contract.validate("POST", "/v1/payment_intents/pi_1/capture", {"metadata": ""})


# What it refuses, as Stripe does ------------------------------------------------------


def test_payment_method_types_is_refused_with_the_code_of_the_changelog():
    error = refusal("POST", "/v1/payment_intents", create(payment_method_types=["card"]))
    assert (error.code, error.param) == (
        "payment_method_types_no_longer_supported",
        "payment_method_types",
    )


@pytest.mark.parametrize(
    ("options", "param"),
    [
        (
            {"alipay": {"capture_method": "manual"}},
            "payment_method_options[alipay][capture_method]",
        ),
        ({"card": {"no_such_option": "1"}}, "payment_method_options[card][no_such_option]"),
        ({"no_such_method": {}}, "payment_method_options[no_such_method]"),
    ],
)
def test_unknown_parameters_are_refused_at_any_depth(options, param):
    error = refusal("POST", "/v1/payment_intents", create(payment_method_options=options))
    assert (error.code, error.param) == ("parameter_unknown", param)
    assert str(error) == f"Received unknown parameter: {param}"


def test_an_unknown_top_level_parameter_is_refused():
    error = refusal("POST", "/v1/refunds", {"payment_intent": "pi_1", "amout": "100"})
    assert (error.code, error.param) == ("parameter_unknown", "amout")


def test_a_value_outside_an_enum_is_refused_without_an_undocumented_code():
    error = refusal(
        "POST",
        "/v1/payment_intents",
        create(payment_method_options={"card": {"request_multicapture": "always"}}),
    )
    assert error.param == "payment_method_options[card][request_multicapture]"
    assert str(error) == "Invalid request_multicapture: must be one of if_available, or never"
    assert error.code is None  # Stripe documents no code for it

    error = refusal("POST", "/v1/payment_intents", create(capture_method="later"))
    assert error.param == "capture_method"
    assert "automatic, automatic_async, or manual" in str(error)

    error = refusal("POST", "/v1/payment_intents", create(allowed_payment_method_types=["cash"]))
    assert error.param == "allowed_payment_method_types[0]"

    error = refusal("POST", "/v1/payment_intents/pi_1/cancel", {"cancellation_reason": "expired"})
    assert error.param == "cancellation_reason"  # "expired" is Stripe's to set, not ours


def test_values_of_the_wrong_type_are_refused():
    error = refusal("POST", "/v1/payment_intents", create(amount="12.50"))
    assert (error.code, error.param) == ("parameter_invalid_integer", "amount")
    error = refusal("POST", "/v1/payment_intents", create(confirm="yes"))
    assert (error.code, error.param, str(error)) == (None, "confirm", "Invalid boolean: yes")
    error = refusal("POST", "/v1/payment_intents", create(expand="latest_charge"))
    assert (str(error), error.param) == ("Invalid array", "expand")
    error = refusal("POST", "/v1/payment_intents", create(payment_method_options="card"))
    assert (str(error), error.param) == ("Invalid hash", "payment_method_options")


def test_an_empty_value_that_cannot_unset_is_refused():
    error = refusal("POST", "/v1/payment_intents", create(description=""))
    assert (error.code, error.param) == ("parameter_invalid_empty", "description")
    error = refusal("POST", "/v1/payment_intents", create(capture_method=""))
    assert (error.code, error.param) == ("parameter_invalid_empty", "capture_method")


def test_a_required_parameter_left_out_is_missing():
    params = create()
    del params["currency"]
    error = refusal("POST", "/v1/payment_intents", params)
    assert (error.code, error.param) == ("parameter_missing", "currency")


def test_nested_required_parameters_are_checked():
    error = refusal(
        "POST",
        "/v1/payment_intents",
        create(automatic_payment_methods={"allow_redirects": "never"}),
    )
    assert (error.code, error.param) == ("parameter_missing", "automatic_payment_methods[enabled]")


# Through the library and the fake -------------------------------------------------------


def test_the_fake_answers_a_refusal_as_stripe_and_does_nothing():
    fake = StripeFake()
    client = stripe.StripeClient("sk_test_fake", http_client=fake, max_network_retries=0)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create(
            params={
                "amount": 5000,
                "currency": "eur",
                "confirm": True,
                "confirmation_token": fake.create_confirmation_token(),
                "return_url": RETURN_URL,
                "payment_method_options": {
                    "card": {"request_multicapture": "always"}  # type: ignore[typeddict-item]
                },
            },
            options={"idempotency_key": "k-1"},
        )
    assert refused.value.http_status == 400
    assert refused.value.param == "payment_method_options[card][request_multicapture]"
    assert not fake.objects("payment_intent")
    assert [r.path for r in fake.contract_refusals] == ["/v1/payment_intents"]
    # A refusal is not stored under the key: the corrected request goes through.
    intent = client.v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "eur",
            "confirm": True,
            "confirmation_token": fake.create_confirmation_token(),
            "return_url": RETURN_URL,
        },
        options={"idempotency_key": "k-1"},
    )
    assert intent.status == "succeeded"


def test_what_stripe_accepts_and_the_fake_does_not_implement_is_said_plainly():
    fake = StripeFake()
    client = stripe.StripeClient("sk_test_fake", http_client=fake, max_network_retries=0)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create(
            params={"amount": 5000, "currency": "eur", "transfer_group": "order-A1"}
        )
    assert "does not implement" in str(refused.value)
    assert not fake.contract_refusals


# Error codes: only documented ones -------------------------------------------------------


def test_the_fake_answers_only_with_documented_error_codes():
    import tests.payments.stripe_fake as fake_module

    source = Path(fake_module.__file__).read_text()
    codes = set(re.findall(r'code="([a-z_]+)"', source))
    codes |= {decline.code for decline in TEST_DECLINES}
    codes |= set(re.findall(r'_fail_attempt\(\s*intent,\s*"([a-z_]+)"', source))
    assert codes >= {"charge_expired_for_capture", "payment_intent_unexpected_state"}
    assert codes <= contract.documented_error_codes(), codes - contract.documented_error_codes()


def test_the_adapter_matches_only_documented_error_codes():
    """Anything else is a generic refusal (``ProviderRejected``), never matched on."""
    import payments.providers.stripe.mapping as mapping_module
    import payments.providers.stripe.provider as provider_module

    source = "".join(
        Path(module.__file__).read_text() for module in (provider_module, mapping_module)
    )
    matched = set(re.findall(r'"([a-z_]+)" in \(code, decline\)', source))
    matched |= set(re.findall(r'code == "([a-z_]+)"', source))
    assert matched >= {"charge_expired_for_capture", "payment_intent_authentication_failure"}
    assert matched <= contract.documented_error_codes(), matched - contract.documented_error_codes()
