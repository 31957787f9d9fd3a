"""Stock held by a payment left on the bank's page comes back after the hold, not before."""

from datetime import timedelta

import pytest
from django.urls import reverse

from orders.models import Order, OrderStatus
from payments.models import Payment, PaymentStatus
from payments.providers.sandbox.models import SandboxCharge
from payments.services import payment_watch_authorizations
from tests.factories import ProductVariantFactory
from tests.shop.test_checkout import THREE_DS, checkout_until_review, review_form

pytestmark = pytest.mark.django_db


def test_an_abandoned_challenge_holds_the_stock_for_the_hold_then_releases_it(
    client, settings, run_tasks, english
):
    settings.PAYMENTS_PENDING_HOLD_MINUTES = 15
    variant = ProductVariantFactory(stock=1)  # the last one of its size
    checkout_until_review(client, variant, number=THREE_DS)
    challenge = client.post(reverse("shop:checkout_review"), review_form(client)).url
    assert challenge.startswith("/sandbox/3ds/")
    payment = Payment.objects.get()
    variant.refresh_from_db()
    assert variant.stock == 0  # held for the shopper at the bank's page

    payment_watch_authorizations(now=payment.created_at + timedelta(minutes=14))
    payment.refresh_from_db()
    variant.refresh_from_db()
    assert (payment.status, variant.stock) == (PaymentStatus.PENDING, 0)

    payment_watch_authorizations(now=payment.created_at + timedelta(minutes=15, seconds=1))
    payment.refresh_from_db()
    variant.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "authentication_abandoned"
    assert variant.stock == 1  # another shopper can buy it
    assert Order.objects.get().status == OrderStatus.PAYMENT_FAILED
    run_tasks()  # the worker cancels the authorization at the provider
    assert SandboxCharge.objects.get().status == SandboxCharge.Status.VOIDED

    # The shopper finishes at the bank afterwards: nothing is held, nothing charged,
    # and the checkout says so and lets them pay again with the cart intact.
    response = client.post(challenge, {"outcome": "approve"})
    page = client.get(response.url, follow=True)
    assert page.redirect_chain[-1][0] == reverse("shop:checkout_payment")
    assert "came too late" in page.content.decode()
    assert client.session["cart"] == {str(variant.pk): 1}
    assert SandboxCharge.objects.get().status == SandboxCharge.Status.VOIDED
    assert Order.objects.get().status == OrderStatus.PAYMENT_FAILED
