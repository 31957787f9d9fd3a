"""Issue 12, point 1: a new payment choice ends the challenge left open by the one before."""

import uuid

import pytest
from django.urls import reverse

from orders.models import Order, OrderStatus
from payments.models import LedgerOperation, Payment, PaymentLedgerEntry, PaymentStatus
from shop.checkout.services import PaymentChoice, PaymentChoiceChanged, checkout_place_order
from tests.factories import ProductVariantFactory
from tests.helpers import card_token, customer
from tests.shop.test_checkout import THREE_DS, checkout_until_review, enter_card, review_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def variant():
    return ProductVariantFactory(product__price_amount=12900, product__slug="robe", stock=3)


def test_back_from_3d_secure_and_another_card_places_with_the_new_card(client, variant, run_tasks):
    checkout_until_review(client, variant, number=THREE_DS)
    challenge = client.post(reverse("shop:checkout_review"), review_form(client)).url
    assert challenge.startswith("/sandbox/3ds/")

    # Back to the review, then the payment step: another card.
    assert enter_card(client, "4242424242424242").url == reverse("shop:checkout_review")
    first = Order.objects.get()
    assert first.status == OrderStatus.PAYMENT_FAILED  # its stock is given back
    variant.refresh_from_db()
    assert variant.stock == 3

    response = client.post(reverse("shop:checkout_review"), review_form(client))

    second = Order.objects.exclude(pk=first.pk).get()
    assert response.url == reverse("shop:order_confirmation", kwargs={"token": second.token})
    payment = Payment.objects.get(order=second)
    assert (payment.status, payment.card_last4) == (PaymentStatus.AUTHORIZED, "4242")
    # The first card's authorization is cancelled at the provider by the worker.
    run_tasks()
    abandoned = Payment.objects.get(order=first)
    assert abandoned.status == PaymentStatus.FAILED
    assert abandoned.failure_code == "payment_replaced"
    assert PaymentLedgerEntry.objects.filter(
        payment=abandoned, operation=LedgerOperation.VOID, event="succeeded"
    ).exists()
    # The old bank page no longer leads to a hold.
    client.post(challenge, {"outcome": "approve"})
    abandoned.refresh_from_db()
    assert abandoned.status == PaymentStatus.FAILED


def test_place_order_never_resumes_an_authorization_for_another_card(variant):
    checkout_token = uuid.uuid4()
    first_token, first_card = card_token(THREE_DS, reference=str(checkout_token))
    arguments = {
        "checkout_token": checkout_token,
        "quantities": {variant.pk: 1},
        "customer": customer(),
        "shipping_method": "standard",
        "language": "fr",
        "return_url": "http://testserver/checkout/authentication/return/",
    }
    outcome = checkout_place_order(
        **arguments,
        payment=PaymentChoice(method="card", payment_token=first_token, card=first_card),
    )
    assert outcome.action_url

    other_token, other_card = card_token(reference=str(checkout_token))
    with pytest.raises(PaymentChoiceChanged):
        checkout_place_order(
            **arguments,
            payment=PaymentChoice(method="card", payment_token=other_token, card=other_card),
        )

    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.FAILED
    assert Order.objects.get().status == OrderStatus.PAYMENT_FAILED


def test_a_tampered_checkout_token_is_not_called_another_tab(client, variant, english):
    checkout_until_review(client, variant)

    response = client.post(
        reverse("shop:checkout_review"), {"checkout_token": "not-a-token"}, follow=True
    )

    page = response.content.decode()
    assert "could not be verified" in page
    assert "another tab" not in page
    assert not Order.objects.exists()


def test_a_review_page_left_open_in_another_tab_says_so(client, variant, english):
    checkout_until_review(client, variant, number=THREE_DS)
    stale = review_form(client)
    client.post(reverse("shop:checkout_review"), stale)  # the bank's page opens
    enter_card(client)  # another card chosen elsewhere: a new attempt

    response = client.post(reverse("shop:checkout_review"), stale, follow=True)

    assert "changed in another tab" in response.content.decode()
    assert Order.objects.get().status == OrderStatus.PAYMENT_FAILED  # only the abandoned one
