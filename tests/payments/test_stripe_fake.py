"""The Stripe fake, driven through the real ``stripe`` library (no network, no database)."""

import re
from typing import Any

import pytest
import stripe

from tests.payments import stripe_contract
from tests.payments.stripe_fake import (
    API_VERSION,
    CANCELABLE,
    StripeFake,
    decode_params,
    sign,
    webhook,
)

RETURN_URL = "https://shop.example/fr/checkout/return/?order=A1&step=2"
SECRET = "whsec_test_fake"


@pytest.fixture
def fake() -> StripeFake:
    return StripeFake()


@pytest.fixture
def client(fake: StripeFake) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_fake", http_client=fake, max_network_retries=2)


def authorize(
    client: stripe.StripeClient,
    fake: StripeFake,
    payment_method: str = "pm_card_visa",
    *,
    capture: str = "manual",
    amount: int = 10000,
    key: str = "authorize-A1",
    wallet: Any = None,
) -> Any:
    """Create and confirm a PaymentIntent the way the shop's provider does."""
    kind = "card" if payment_method.startswith("pm_card") else payment_method.removeprefix("pm_")
    params: dict[str, Any] = {
        "amount": amount,
        "currency": "eur",
        "confirm": True,
        "confirmation_token": fake.create_confirmation_token(payment_method, wallet),
        "return_url": RETURN_URL,
        "capture_method": capture,
        "allowed_payment_method_types": [kind],
        "metadata": {"order_number": "A1", "operation": key},
        "expand": ["latest_charge", "review"],
    }
    if capture == "manual":
        options: dict[str, Any] = {"capture_method": "manual"}
        if kind == "card":
            options["request_multicapture"] = "if_available"
        params["payment_method_options"] = {kind: options}
    return client.v1.payment_intents.create(params=params, options={"idempotency_key": key})


def capture(client: stripe.StripeClient, pi_id: str, amount: int, *, final: bool, key: str) -> Any:
    params: dict[str, Any] = {"amount_to_capture": amount, "expand": ["latest_charge"]}
    if not final:
        params["final_capture"] = False
    return client.v1.payment_intents.capture(pi_id, params=params, options={"idempotency_key": key})


# What goes over the wire ---------------------------------------------------------


def test_the_decoder_reads_what_the_library_sends(fake, client):
    intent = authorize(client, fake, key="k-1")

    [sent] = fake.requests
    assert (sent.method, sent.path, sent.idempotency_key) == ("POST", "/v1/payment_intents", "k-1")
    assert sent.params == {
        "amount": "10000",
        "currency": "eur",
        "confirm": "true",
        "confirmation_token": sent.params["confirmation_token"],
        "return_url": RETURN_URL,
        "capture_method": "manual",
        "allowed_payment_method_types": ["card"],
        "metadata": {"order_number": "A1", "operation": "k-1"},
        "expand": ["latest_charge", "review"],
        "payment_method_options": {
            "card": {"capture_method": "manual", "request_multicapture": "if_available"}
        },
    }
    client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert fake.requests[-1].method == "GET"
    assert fake.requests[-1].params == {"expand": ["latest_charge"]}
    assert fake.requests[-1].idempotency_key is None


def test_the_decoder_handles_appends_indexes_and_metadata_keys():
    assert decode_params("expand[]=a&expand[]=b&a[b][0][c]=1&metadata[0]=x&empty=") == {
        "expand": ["a", "b"],
        "a": {"b": [{"c": "1"}]},
        "metadata": {"0": "x"},
        "empty": "",
    }
    with pytest.raises(ValueError, match="both a value and a hash"):
        decode_params("a=1&a[b]=2")


def test_the_confirmation_token_previews_the_card_and_records_its_payment(fake, client):
    token_id = fake.create_confirmation_token("pm_card_mastercard", wallet="google_pay")

    token = client.v1.confirmation_tokens.retrieve(token_id)
    assert token.object == "confirmation_token"
    assert token.payment_intent is None
    preview = token.payment_method_preview
    assert preview.type == "card"
    assert (preview.card.brand, preview.card.last4, preview.card.funding) == (
        "mastercard",
        "4444",
        "credit",
    )
    assert preview.card.wallet.type == "google_pay"
    assert preview.billing_details.address.country == "FR"

    intent = client.v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "eur",
            "confirm": True,
            "confirmation_token": token_id,
            "return_url": RETURN_URL,
            "allowed_payment_method_types": ["card"],
        }
    )
    assert client.v1.confirmation_tokens.retrieve(token_id).payment_intent == intent.id
    with pytest.raises(stripe.InvalidRequestError) as used:
        client.v1.payment_intents.create(
            params={
                "amount": 5000,
                "currency": "eur",
                "confirm": True,
                "confirmation_token": token_id,
            }
        )
    assert (used.value.code, used.value.param) == ("resource_missing", "confirmation_token")


def test_payment_method_types_is_refused_as_the_pinned_version_does(fake, client):
    """2026-09-30.endive removed it: a 400 with the code its changelog documents."""
    token = fake.create_confirmation_token()
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create(
            params={  # type: ignore[typeddict-unknown-key]
                "amount": 5000,
                "currency": "eur",
                "confirm": True,
                "confirmation_token": token,
                "return_url": RETURN_URL,
                "payment_method_types": ["card"],
            }
        )
    assert refused.value.http_status == 400
    assert refused.value.code == "payment_method_types_no_longer_supported"
    assert refused.value.param == "payment_method_types"
    assert fake.count("payment_intents.create") == 0


def test_allowed_payment_method_types_excludes_the_other_ways_of_choosing(fake, client):
    """2026-07-29.dahlia: exclusive with automatic_payment_methods and the others."""
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create(
            params={
                "amount": 5000,
                "currency": "eur",
                "allowed_payment_method_types": ["card"],
                "automatic_payment_methods": {"enabled": True},
            }
        )
    assert refused.value.code == "parameters_exclusive"


def test_a_method_outside_the_allowed_types_cannot_confirm(fake, client):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create(
            params={
                "amount": 5000,
                "currency": "eur",
                "confirm": True,
                "confirmation_token": fake.create_confirmation_token("pm_paypal"),
                "return_url": RETURN_URL,
                "allowed_payment_method_types": ["card"],
            }
        )
    assert refused.value.code == "payment_intent_incompatible_payment_method"


# Cards ------------------------------------------------------------------------------


def test_an_approved_card_is_held_then_captured_in_two_parts(fake, client):
    intent = authorize(client, fake, "pm_card_amex", wallet="apple_pay")

    assert intent.status == "requires_capture"
    assert (intent.amount_capturable, intent.amount_received) == (10000, 0)
    assert intent.review is None
    charge = intent.latest_charge
    assert (charge.object, charge.status, charge.paid, charge.captured) == (
        "charge",
        "succeeded",
        True,
        False,
    )
    card = charge.payment_method_details.card
    assert (card.brand, card.last4, card.wallet.type) == ("amex", "8431", "apple_pay")
    assert card.multicapture.status == "available"
    assert card.capture_before == fake.now + 7 * 24 * 3600
    assert charge.outcome.type == "authorized"

    first = capture(client, intent.id, 6000, final=False, key="ship-1")
    assert first.status == "requires_capture"
    assert (first.amount_capturable, first.amount_received) == (4000, 6000)
    assert first.latest_charge.amount_captured == 6000

    last = capture(client, intent.id, 3000, final=True, key="ship-2")
    assert last.status == "succeeded"
    assert (last.amount_capturable, last.amount_received) == (0, 9000)
    # The 10,00 € never captured was released; since basil that is no refund on the charge.
    assert (last.latest_charge.amount_captured, last.latest_charge.amount_refunded) == (9000, 0)
    assert last.latest_charge.refunded is False
    assert fake.count("payment_intents.capture", intent.id) == 2


def test_without_multicapture_a_card_is_captured_once(fake, client):
    fake.multicapture = False
    intent = authorize(client, fake)
    assert intent.latest_charge.payment_method_details.card.multicapture.status == "unavailable"

    with pytest.raises(stripe.InvalidRequestError) as refused:
        capture(client, intent.id, 6000, final=False, key="ship-1")
    assert refused.value.param == "final_capture"

    assert capture(client, intent.id, 6000, final=True, key="ship-2").status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as again:
        capture(client, intent.id, 1000, final=True, key="ship-3")
    assert again.value.code == "payment_intent_unexpected_state"
    assert again.value.error.payment_intent.status == "succeeded"
    assert fake.count("payment_intents.capture") == 1


def test_capturing_more_than_is_held_is_refused(fake, client):
    intent = authorize(client, fake)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        capture(client, intent.id, 10001, final=True, key="ship-1")

    assert (refused.value.code, refused.value.http_status) == ("amount_too_large", 400)
    assert client.v1.payment_intents.retrieve(intent.id).amount_capturable == 10000


def test_with_automatic_capture_a_card_is_taken_at_once(fake, client):
    intent = authorize(client, fake, capture="automatic")

    assert intent.status == "succeeded"
    assert (intent.amount_received, intent.amount_capturable) == (10000, 0)
    assert intent.latest_charge.captured is True
    assert "capture_before" not in intent.latest_charge.payment_method_details.card


@pytest.mark.parametrize(
    ("payment_method", "code", "decline_code"),
    [
        ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ],
)
def test_a_declined_card_raises_a_card_error(fake, client, payment_method, code, decline_code):
    with pytest.raises(stripe.CardError) as declined:
        authorize(client, fake, payment_method)

    error = declined.value
    assert (error.http_status, error.code, error.error.decline_code) == (402, code, decline_code)
    assert error.error.type == "card_error"
    assert error.request_id.startswith("req_")
    assert error.error.payment_intent.status == "requires_payment_method"
    intent = client.v1.payment_intents.retrieve(
        error.error.payment_intent.id, params={"expand": ["latest_charge"]}
    )
    assert intent.status == "requires_payment_method"
    assert (intent.last_payment_error.code, intent.last_payment_error.decline_code) == (
        code,
        decline_code,
    )
    assert intent.latest_charge.status == "failed"
    assert intent.latest_charge.outcome.type == "issuer_declined"


def test_3d_secure_asks_for_a_redirect_then_holds_the_card(fake, client):
    intent = authorize(client, fake, "pm_card_authenticationRequired")

    assert intent.status == "requires_action"
    assert intent.next_action.type == "redirect_to_url"
    assert intent.next_action.redirect_to_url.url.startswith(
        "https://hooks.stripe.com/3d_secure_2/"
    )
    assert intent.next_action.redirect_to_url.return_url == RETURN_URL
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.latest_charge is None

    fake.complete_action(intent.id)

    done = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert done.status == "requires_capture"
    assert done.next_action is None
    assert done.latest_charge.payment_method_details.card.three_d_secure.result == "authenticated"


def test_failed_3d_secure_leaves_the_payment_without_a_method(fake, client):
    intent = authorize(client, fake, "pm_card_authenticationRequired")

    failed = fake.complete_action(intent.id, succeed=False)

    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"


# Radar reviews ----------------------------------------------------------------------


def test_an_elevated_risk_payment_opens_a_review_that_can_be_approved(fake, client):
    intent = authorize(client, fake, "pm_card_riskLevelElevated")

    assert intent.status == "requires_capture"
    review = intent.review
    assert (review.object, review.open, review.reason, review.opened_reason) == (
        "review",
        True,
        "rule",
        "rule",
    )
    assert (review.payment_intent, review.charge) == (intent.id, intent.latest_charge.id)
    assert intent.latest_charge.review == review.id
    assert intent.latest_charge.outcome.type == "manual_review"
    assert intent.latest_charge.outcome.risk_level == "elevated"

    approved = client.v1.reviews.approve(review.id, options={"idempotency_key": "approve-1"})
    assert (approved.open, approved.closed_reason, approved.reason) == (
        False,
        "approved",
        "approved",
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.reviews.approve(review.id, options={"idempotency_key": "approve-2"})
    assert fake.count("reviews.approve", review.id) == 1
    assert client.v1.payment_intents.retrieve(intent.id).review == review.id


def test_a_review_closed_in_the_dashboard(fake, client):
    intent = authorize(client, fake, "pm_card_riskLevelElevated")

    fake.close_review(intent.id, reason="refunded_as_fraud")

    review = client.v1.reviews.retrieve(intent.review.id)
    assert (review.open, review.closed_reason) == (False, "refunded_as_fraud")


# PayPal and Alipay ------------------------------------------------------------------


def test_paypal_redirects_then_holds_once(fake, client):
    intent = authorize(client, fake, "pm_paypal")

    assert intent.status == "requires_action"
    assert intent.next_action.redirect_to_url.url.startswith("https://www.paypal.com/")
    token = client.v1.confirmation_tokens.retrieve(fake.requests[0].params["confirmation_token"])
    assert token.payment_method_preview.paypal.payer_email == "buyer@example.com"

    fake.complete_action(intent.id)
    held = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert held.status == "requires_capture"
    details = held.latest_charge.payment_method_details
    assert details.type == "paypal"
    assert details.paypal.payer_email == "buyer@example.com"
    with pytest.raises(stripe.InvalidRequestError):
        capture(client, intent.id, 5000, final=False, key="ship-1")
    assert capture(client, intent.id, 5000, final=True, key="ship-2").amount_received == 5000


def test_a_paypal_payment_the_buyer_abandons(fake, client):
    intent = authorize(client, fake, "pm_paypal")

    failed = fake.complete_action(intent.id, succeed=False)

    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_payment_attempt_failed"


def test_alipay_redirects_then_is_taken_at_once(fake, client):
    intent = authorize(client, fake, "pm_alipay", capture="automatic")

    assert intent.status == "requires_action"
    assert intent.next_action.type == "alipay_handle_redirect"
    assert "alipay" in intent.next_action.alipay_handle_redirect.url

    fake.complete_action(intent.id)
    paid = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert (paid.status, paid.amount_received) == ("succeeded", 10000)
    assert paid.latest_charge.captured is True
    assert paid.latest_charge.payment_method_details.type == "alipay"


# Idempotency and faults -------------------------------------------------------------


def test_the_same_key_and_parameters_replay_the_first_answer(fake, client):
    first = authorize(client, fake, key="k-1")
    params: dict[str, Any] = dict(fake.requests[0].params)
    params["amount"] = int(params["amount"])
    params["confirm"] = True

    again = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k-1"})

    assert again.id == first.id
    assert again.last_response.body == first.last_response.body
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert again.last_response.idempotency_key == "k-1"
    assert fake.requests[-1].replayed
    assert fake.count("payment_intents.create") == 1


def test_the_same_key_with_other_parameters_is_an_idempotency_error(fake, client):
    intent = authorize(client, fake, key="k-1")

    with pytest.raises(stripe.IdempotencyError) as mismatch:
        capture(client, intent.id, 100, final=True, key="k-1")

    assert "Try using a key other than 'k-1'" in str(mismatch.value)
    assert fake.count("payment_intents.capture") == 0


def test_the_library_adds_a_key_to_every_post_and_keeps_it_on_retries(fake, client):
    intent = authorize(client, fake)
    fake.fail_next("connection", path_contains="/capture")

    client.v1.payment_intents.capture(intent.id)

    tries = [r for r in fake.requests if r.path.endswith("/capture")]
    assert [r.fault for r in tries] == ["connection", None]
    assert tries[0].idempotency_key
    assert tries[0].idempotency_key == tries[1].idempotency_key


def test_a_connection_error_is_retried_with_the_same_key_and_captures_once(fake, client):
    intent = authorize(client, fake)
    fake.fail_next("connection", path_contains="/capture", times=2)

    captured = capture(client, intent.id, 10000, final=True, key="ship-1")

    assert captured.status == "succeeded"
    tries = [r for r in fake.requests if r.path.endswith("/capture")]
    assert [(r.idempotency_key, r.status) for r in tries] == [
        ("ship-1", None),
        ("ship-1", None),
        ("ship-1", 200),
    ]
    assert fake.count("payment_intents.capture", intent.id) == 1


def test_connection_errors_beyond_the_retries_reach_the_caller(fake, client):
    intent = authorize(client, fake)
    fake.fail_next("connection", path_contains="/capture", times=3)

    with pytest.raises(stripe.APIConnectionError):
        capture(client, intent.id, 10000, final=True, key="ship-1")

    assert fake.count("payment_intents.capture") == 0
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_capture"


def test_a_lost_answer_is_replayed_on_the_retry(fake, client):
    intent = authorize(client, fake)
    fake.fail_next("lost", path_contains="/capture")

    captured = capture(client, intent.id, 10000, final=True, key="ship-1")

    assert captured.status == "succeeded"
    tries = [r for r in fake.requests if r.path.endswith("/capture")]
    assert [(r.fault, r.replayed) for r in tries] == [("lost", False), (None, True)]
    assert fake.count("payment_intents.capture", intent.id) == 1


def test_a_lost_answer_without_library_retries_is_replayed_to_the_callers_retry(fake):
    client = stripe.StripeClient("sk_test_fake", http_client=fake, max_network_retries=0)
    intent = authorize(client, fake)
    fake.fail_next("lost", path_contains="/capture")

    with pytest.raises(stripe.APIConnectionError):
        capture(client, intent.id, 10000, final=True, key="ship-1")
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"

    replayed = capture(client, intent.id, 10000, final=True, key="ship-1")
    assert replayed.status == "succeeded"
    assert replayed.last_response.headers["idempotent-replayed"] == "true"
    assert fake.count("payment_intents.capture") == 1


def test_a_server_error_is_retried_by_the_library(fake, client):
    intent = authorize(client, fake)
    fake.fail_next("500", path_contains="/capture")

    assert capture(client, intent.id, 10000, final=True, key="ship-1").status == "succeeded"
    assert [r.status for r in fake.requests if r.path.endswith("/capture")] == [500, 200]
    assert fake.count("payment_intents.capture") == 1


def test_a_server_error_every_time_is_an_api_error(fake, client):
    intent = authorize(client, fake)
    fake.fail_next("500", path_contains="/capture", times=3)

    with pytest.raises(stripe.APIError) as failed:
        capture(client, intent.id, 10000, final=True, key="ship-1")

    assert failed.value.http_status == 500
    assert fake.count("payment_intents.capture") == 0


def test_a_rate_limit_is_not_retried_by_the_library(fake, client):
    intent = authorize(client, fake)
    fake.fail_next("429", method="POST")

    with pytest.raises(stripe.RateLimitError):
        capture(client, intent.id, 10000, final=True, key="ship-1")

    assert [r.status for r in fake.requests if r.path.endswith("/capture")] == [429]
    # Nothing was stored under the key: the same request goes through afterwards.
    assert capture(client, intent.id, 10000, final=True, key="ship-1").status == "succeeded"


# Expiry, cancellation, refunds ------------------------------------------------------


def test_capturing_after_the_authorization_lapsed(fake, client):
    intent = authorize(client, fake)
    fake.expire(intent.id)

    with pytest.raises(stripe.InvalidRequestError) as expired:
        capture(client, intent.id, 10000, final=True, key="ship-1")

    assert expired.value.code == "charge_expired_for_capture"
    lapsed = client.v1.payment_intents.retrieve(intent.id)
    assert (lapsed.status, lapsed.cancellation_reason, lapsed.amount_capturable) == (
        "canceled",
        "expired",
        0,
    )
    assert lapsed.latest_charge  # the charge stays, nothing counted as refunded on it
    charge = client.v1.charges.retrieve(lapsed.latest_charge)
    assert (charge.amount_captured, charge.amount_refunded, charge.refunded) == (0, 0, False)
    assert fake.count("payment_intents.capture") == 0


def test_a_card_hold_lapses_when_the_clock_passes_capture_before(fake, client):
    intent = authorize(client, fake)
    fake.advance(7 * 24 * 3600)

    with pytest.raises(stripe.InvalidRequestError) as expired:
        capture(client, intent.id, 10000, final=True, key="ship-1")

    assert expired.value.code == "charge_expired_for_capture"


def test_canceling_releases_the_hold(fake, client):
    intent = authorize(client, fake)

    canceled = client.v1.payment_intents.cancel(
        intent.id,
        params={"cancellation_reason": "requested_by_customer", "expand": ["latest_charge"]},
        options={"idempotency_key": "void-1"},
    )

    assert (canceled.status, canceled.amount_capturable) == ("canceled", 0)
    assert canceled.cancellation_reason == "requested_by_customer"
    assert canceled.canceled_at == fake.now
    # Releasing a hold is no refund (basil): the charge shows nothing refunded.
    assert (canceled.latest_charge.refunded, canceled.latest_charge.amount_refunded) == (
        False,
        0,
    )
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.cancel(intent.id)
    assert again.value.code == "payment_intent_unexpected_state"


def test_canceling_after_partial_captures_releases_what_is_left(fake, client):
    intent = authorize(client, fake)
    capture(client, intent.id, 4000, final=False, key="ship-1")

    canceled = client.v1.payment_intents.cancel(
        intent.id, params={"expand": ["latest_charge"]}, options={"idempotency_key": "void-1"}
    )

    assert (canceled.status, canceled.amount_received, canceled.amount_capturable) == (
        "canceled",
        4000,
        0,
    )
    charge = canceled.latest_charge
    assert (charge.amount_captured, charge.amount_refunded, charge.refunded) == (4000, 0, False)


def test_behaviours_stripe_documents_without_an_error_code_carry_none(fake, client):
    """The shop must not match on a code Stripe does not document: the fake sends none."""
    fake.multicapture = False
    intent = authorize(client, fake)
    with pytest.raises(stripe.InvalidRequestError) as partial:
        capture(client, intent.id, 1000, final=False, key="ship-1")
    assert (partial.value.code, partial.value.param) == (None, "final_capture")
    with pytest.raises(stripe.InvalidRequestError) as uncaptured:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert uncaptured.value.code is None


def test_refunds_up_to_what_was_captured(fake, client):
    intent = authorize(client, fake)
    with pytest.raises(stripe.InvalidRequestError):  # nothing captured yet
        client.v1.refunds.create(params={"payment_intent": intent.id})
    capture(client, intent.id, 8000, final=True, key="ship-1")

    refund = client.v1.refunds.create(
        params={"payment_intent": intent.id, "amount": 3000, "metadata": {"operation": "r-1"}},
        options={"idempotency_key": "r-1"},
    )
    assert (refund.object, refund.status, refund.amount, refund.currency) == (
        "refund",
        "succeeded",
        3000,
        "eur",
    )
    assert (refund.payment_intent, refund.charge) == (intent.id, intent.latest_charge.id)
    assert refund.metadata.operation == "r-1"

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 5001})
    assert too_much.value.code == "amount_too_large"

    rest = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert rest.amount == 5000
    with pytest.raises(stripe.InvalidRequestError) as done:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1})
    assert done.value.code == "charge_already_refunded"

    charge = client.v1.charges.retrieve(intent.latest_charge.id, params={"expand": ["refunds"]})
    # 80,00 € captured and refunded; the 20,00 € released is not counted (basil).
    assert (charge.amount_refunded, charge.refunded) == (8000, True)
    assert [r.id for r in charge.refunds.data] == [rest.id, refund.id]
    assert "total_count" not in charge.refunds  # Stripe's charge.refunds list has none
    listed = client.v1.refunds.list(params={"payment_intent": intent.id, "limit": 100})
    assert [r.amount for r in listed.data] == [5000, 3000]
    assert fake.count("refunds.create", intent.id) == 2


def test_disputes_and_dashboard_refunds_for_webhook_tests(fake, client):
    intent = authorize(client, fake, capture="automatic")

    refund = fake.refund_outside(intent.id, 1000)
    dispute = fake.dispute(intent.id)

    assert (refund["object"], refund["amount"], refund["payment_intent"]) == (
        "refund",
        1000,
        intent.id,
    )
    assert (dispute["object"], dispute["status"], dispute["reason"]) == (
        "dispute",
        "needs_response",
        "fraudulent",
    )
    assert (dispute["charge"], dispute["payment_intent"]) == (intent.latest_charge.id, intent.id)
    charge = client.v1.charges.retrieve(intent.latest_charge.id)
    assert (charge.disputed, charge.amount_refunded) == (True, 1000)
    assert fake.count("refunds.create") == 0
    # The fields the pinned version requires on a Dispute.
    assert dispute["enhanced_eligibility_types"] == []
    assert dispute["evidence"]["enhanced_evidence"] == {}
    assert dispute["evidence_details"]["enhanced_eligibility"] == {}
    assert dispute["evidence_details"]["submission_method"] == "not_submitted"


def test_every_status_stripe_documents_as_cancelable_can_be_canceled():
    """The library's documentation of cancel names them ("processing", in rare cases)."""
    from stripe._payment_intent_service import PaymentIntentService

    documented = re.findall(r"\b(requires_\w+|processing)\b", PaymentIntentService.cancel.__doc__)
    assert set(documented) == set(CANCELABLE)


def test_every_object_the_fake_answers_is_shaped_as_the_library_s_types(fake, client):
    """No field the pinned version does not define; every required (not nullable) one."""
    card = authorize(client, fake, key="k-1")
    capture(client, card.id, 4000, final=False, key="c-1")
    capture(client, card.id, 4000, final=True, key="c-2")
    client.v1.refunds.create(params={"payment_intent": card.id, "amount": 1000})
    fake.refund_outside(card.id, 500)
    fake.dispute(card.id)
    authorize(client, fake, "pm_card_riskLevelElevated", key="k-2")
    paypal = authorize(client, fake, "pm_paypal", key="k-3")
    fake.complete_action(paypal.id)
    alipay = authorize(client, fake, "pm_alipay", capture="automatic", key="k-4")
    fake.complete_action(alipay.id)
    secure = authorize(client, fake, "pm_card_authenticationRequired", key="k-5")
    fake.complete_action(secure.id, succeed=False)
    with pytest.raises(stripe.CardError):
        authorize(client, fake, "pm_card_visa_chargeDeclined", key="k-6")
    lapsed = authorize(client, fake, key="k-7")
    fake.expire(lapsed.id, cancel=True)
    fake.create_confirmation_token("pm_card_mastercard", wallet="apple_pay")

    kinds = ("payment_intent", "charge", "refund", "review", "dispute", "payment_method")
    objects = [o for kind in (*kinds, "confirmation_token") for o in fake.objects(kind)]
    assert {o["object"] for o in objects} >= set(kinds)
    expanded = [
        fake.get(o["id"], expand=["refunds"]) for o in objects if o["object"] == "charge"
    ] + [
        fake.get(o["id"], expand=["latest_charge", "review"])
        for o in fake.objects("payment_intent")
    ]
    problems = [p for o in objects + expanded for p in stripe_contract.answer_problems(o)]
    assert problems == []


def test_the_shape_check_finds_missing_and_undefined_fields(fake, client):
    intent = authorize(client, fake, capture="automatic")
    dispute = fake.dispute(intent.id)
    del dispute["enhanced_eligibility_types"]
    charge = fake.get(intent.latest_charge.id, expand=["refunds"])
    charge["refunds"]["total_count"] = 0
    charge["payment_method_details"]["card"]["no_such_field"] = 1

    assert stripe_contract.answer_problems(dispute) == [
        "dispute.enhanced_eligibility_types: required, missing"
    ]
    assert sorted(stripe_contract.answer_problems(charge)) == [
        "charge.payment_method_details.card.no_such_field: not defined",
        "charge.refunds.total_count: not defined",
    ]


# Webhooks ---------------------------------------------------------------------------


def test_a_signed_event_is_accepted_by_the_library(fake, client):
    intent = authorize(client, fake, capture="automatic")
    event = fake.event("payment_intent.succeeded", intent.id, event_id="evt_1")
    payload, header = webhook(event, SECRET)

    verified = stripe.Webhook.construct_event(payload, header, SECRET)
    assert (verified.id, verified.type, verified.api_version) == (
        "evt_1",
        "payment_intent.succeeded",
        API_VERSION,
    )
    assert verified.data.object.id == intent.id
    assert verified.data.object.status == "succeeded"
    assert verified.request.idempotency_key is None
    assert client.construct_event(payload, header, SECRET).data.object.amount_received == 10000

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload.replace(b"10000", b"1"), header, SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign(payload, "whsec_other"), SECRET)


def test_the_signature_is_the_one_stripe_computes():
    payload = '{"id": "evt_1"}'
    expected = stripe.WebhookSignature.generate_signature_header(payload, SECRET, 1_700_000_000)
    assert sign(payload.encode(), SECRET, 1_700_000_000) == expected
    assert stripe.api_version == API_VERSION


def test_an_event_carries_a_snapshot_given_as_a_dict(fake, client):
    intent = authorize(client, fake)
    snapshot = fake.get(intent.id)
    capture(client, intent.id, 10000, final=True, key="ship-1")

    event = fake.event("payment_intent.amount_capturable_updated", snapshot)

    assert event["object"] == "event"
    assert event["livemode"] is False
    assert event["pending_webhooks"] == 1
    assert event["data"]["object"]["status"] == "requires_capture"
    assert fake.event("payment_intent.succeeded", intent.id)["data"]["object"]["status"] == (
        "succeeded"
    )


# Errors for what the fake does not know ---------------------------------------------


def test_unknown_objects_routes_and_parameters(fake, client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.retrieve("pi_nope")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")

    with pytest.raises(stripe.InvalidRequestError) as unrouted:
        client.v1.customers.retrieve("cus_1")
    assert (unrouted.value.http_status, unrouted.value.code) == (404, "resource_missing")

    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "eur", "customer_email": "x@example.com"}
        )
    assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "customer_email")

    with pytest.raises(stripe.InvalidRequestError) as no_token:
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "eur", "confirm": True, "return_url": RETURN_URL}
        )
    assert (no_token.value.http_status, no_token.value.code) == (400, "resource_missing")


def test_a_live_key_is_refused(fake):
    live = stripe.StripeClient("sk_live_nope", http_client=fake)

    with pytest.raises(stripe.AuthenticationError):
        live.v1.payment_intents.retrieve("pi_1")
