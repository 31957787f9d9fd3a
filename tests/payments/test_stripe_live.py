"""Smoke test against Stripe's test mode: authorize, capture, refund through the provider.

The one test allowed to skip: it needs the network and a Stripe *test*
secret key, given as ``STRIPE_LIVE_TEST_SECRET_KEY`` (see the README).
"""

import os
import uuid

import pytest

from payments.providers.base import AuthorizeRequest, CaptureRequest, RefundRequest
from payments.providers.stripe.provider import StripeProvider, build_client

KEY = os.environ.get("STRIPE_LIVE_TEST_SECRET_KEY", "")

pytestmark = pytest.mark.skipif(
    not KEY, reason="set STRIPE_LIVE_TEST_SECRET_KEY=sk_test_... to run against Stripe's test mode"
)


def test_authorize_capture_refund_against_stripe_test_mode(settings):
    assert KEY.startswith(("sk_test_", "rk_test_")), "only a test-mode key, never a live one"
    settings.STRIPE_SECRET_KEY = KEY
    client = build_client()
    provider = StripeProvider(client)
    run = uuid.uuid4().hex
    token = client.v1.test_helpers.confirmation_tokens.create(
        params={"payment_method": "pm_card_visa"}
    )

    authorization = provider.authorize(
        AuthorizeRequest(
            amount=2590,
            currency="EUR",
            payment_token=token.id,
            order_reference=f"SMOKE-{run[:8]}",
            idempotency_key=f"smoke-authorize-{run}",
            return_url="https://shop.example.com/checkout/authentication/return/",
        )
    )
    assert authorization.authorized_amount == 2590
    assert authorization.card.brand == "Visa"
    assert authorization.expires_at is not None

    capture = provider.capture(
        CaptureRequest(
            provider_reference=authorization.provider_reference,
            amount=2590,
            currency="EUR",
            idempotency_key=f"smoke-capture-{run}",
            final=True,
        )
    )
    assert capture.captured_amount == 2590

    refund = provider.refund(
        RefundRequest(
            provider_reference=authorization.provider_reference,
            amount=1000,
            currency="EUR",
            idempotency_key=f"smoke-refund-{run}",
        )
    )
    assert refund.refunded_amount == 1000
    state = provider.retrieve_state(authorization.provider_reference)
    assert (state.status, state.captured_amount) == ("captured", 2590)
    assert [r.amount for r in state.refunds] == [1000]
