"""The checkout with the Stripe provider, through HTTP: the Payment Element page, the return,
placing the order, and 3-D Secure / redirects through the next-action page."""

import json
import re

import pytest
from django.urls import reverse

from orders.models import Order, OrderStatus
from payments.models import Payment, PaymentStatus
from tests.factories import ProductVariantFactory
from tests.shop.test_checkout import DETAILS, fill_cart, review_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def variant():
    return ProductVariantFactory(product__price_amount=12900, product__slug="robe", stock=3)


def options_of(page: str) -> dict:
    return json.loads(re.search(r'id="stripe-options"[^>]*>(.*?)</script>', page, re.S)[1])


def until_payment(client, variant):
    fill_cart(client, variant)
    assert client.post(reverse("shop:checkout_details"), DETAILS).status_code == 302
    response = client.post(reverse("shop:checkout_shipping"), {"shipping_method": "express"})
    assert response.status_code == 302


def payment_form(client, method="card"):
    response = client.post(reverse("shop:checkout_payment"), {"method": method})
    assert response.status_code == 302
    assert response.url.startswith("/payments/stripe/pay/?s=")
    return client.get(response.url)


def back_from_stripe(client, stripe_fake, options, payment_method="pm_card_visa"):
    """What stripe-payment.js does once the Payment Element made a ConfirmationToken."""
    token = stripe_fake.create_confirmation_token(payment_method)
    return client.get(options["returnUrl"], {"session_id": token})


def test_the_payment_form_gets_the_publishable_key_and_the_amount_never_the_secret(
    client, settings, stripe_fake, variant
):
    until_payment(client, variant)
    response = payment_form(client)

    assert response.status_code == 200
    page = response.content.decode()
    options = options_of(page)
    assert options["publishableKey"] == settings.STRIPE_PUBLISHABLE_KEY
    assert options["amount"] == 12900 + 1490  # the cart with express shipping
    assert (options["currency"], options["captureMethod"]) == ("eur", "manual")
    assert options["allowedPaymentMethodTypes"] == ["card"]
    assert settings.STRIPE_SECRET_KEY not in page
    assert settings.STRIPE_WEBHOOK_SECRET not in page
    assert '<script src="https://js.stripe.com/v3/"' in page
    assert not stripe_fake.requests  # nothing is asked of Stripe before "Place order"


def test_alipay_s_form_is_for_an_immediate_payment(client, stripe_fake, variant):
    until_payment(client, variant)
    options = options_of(payment_form(client, "alipay").content.decode())
    assert (options["captureMethod"], options["allowedPaymentMethodTypes"]) == (
        "automatic",
        ["alipay"],
    )


def test_stripe_js_is_loaded_only_on_stripes_pages(client, stripe_fake, variant):
    until_payment(client, variant)
    page = client.get(reverse("shop:checkout_payment")).content.decode()
    assert "js.stripe.com" not in page


@pytest.mark.parametrize("signed", ["", "forged", "eyJhbW91bnQiOjF9:1abc:def"])
def test_a_forged_or_expired_payment_page_link_says_so(client, stripe_fake, english, signed):
    response = client.get("/payments/stripe/pay/", {"s": signed})
    assert response.status_code == 400
    assert "This payment page has expired" in response.content.decode()


def test_paying_by_card_places_the_order_with_the_amount_from_the_server(
    client, stripe_fake, variant
):
    until_payment(client, variant)
    options = options_of(payment_form(client).content.decode())
    response = back_from_stripe(client, stripe_fake, options)
    assert response.url == reverse("shop:checkout_review")
    assert "Visa" in client.get(response.url).content.decode()

    response = client.post(reverse("shop:checkout_review"), review_form(client))

    order = Order.objects.get()
    assert response.url == reverse("shop:order_confirmation", kwargs={"token": order.token})
    assert order.status == OrderStatus.CONFIRMED
    intent = stripe_fake.get(Payment.objects.get().provider_reference)
    assert intent["amount"] == order.total_amount
    assert intent["metadata"]["order_number"] == order.number


def test_a_forged_or_used_confirmation_token_is_not_accepted(client, stripe_fake, variant):
    until_payment(client, variant)
    options = options_of(payment_form(client).content.decode())
    for forged in ("ctoken_doesnotexist", "pi_123", "x" * 300):
        response = client.get(options["returnUrl"], {"session_id": forged})
        assert response.url == reverse("shop:checkout_payment")
    assert not Order.objects.exists()


def test_3d_secure_goes_through_the_next_action_page_and_reads_stripe_on_return(
    client, settings, stripe_fake, variant
):
    until_payment(client, variant)
    options = options_of(payment_form(client).content.decode())
    back_from_stripe(client, stripe_fake, options, "pm_card_authenticationRequired")

    response = client.post(reverse("shop:checkout_review"), review_form(client))
    assert response.url.startswith(reverse("stripe:next_action"))
    page = client.get(response.url)
    assert page.status_code == 200
    action = options_of(page.content.decode())
    payment = Payment.objects.get()
    assert action["clientSecret"] == stripe_fake.get(payment.provider_reference)["client_secret"]
    assert settings.STRIPE_SECRET_KEY not in page.content.decode()
    # The query string Stripe adds on return is not believed; Stripe is asked.
    forged = (
        action["returnUrl"]
        + "?redirect_status=succeeded&payment_intent="
        + payment.provider_reference
    )
    stripe_fake.complete_action(payment.provider_reference)

    response = client.get(forged)

    order = Order.objects.get()
    assert response.url == reverse("shop:order_confirmation", kwargs={"token": order.token})
    assert order.status == OrderStatus.CONFIRMED


def test_coming_back_without_authenticating_keeps_the_cart_and_asks_again(
    client, stripe_fake, variant, english
):
    until_payment(client, variant)
    options = options_of(payment_form(client).content.decode())
    back_from_stripe(client, stripe_fake, options, "pm_card_authenticationRequired")
    next_action = client.post(reverse("shop:checkout_review"), review_form(client)).url
    return_url = options_of(client.get(next_action).content.decode())["returnUrl"]

    response = client.get(return_url, follow=True)

    assert response.redirect_chain[-1][0] == reverse("shop:checkout_payment")
    assert "not finished" in response.content.decode()
    assert Order.objects.get().status == OrderStatus.PAYMENT_FAILED
    assert client.get(reverse("shop:cart")).context["cart"].lines


def test_the_next_action_page_sends_back_when_nothing_is_left_to_do(client, stripe_fake, variant):
    until_payment(client, variant)
    options = options_of(payment_form(client).content.decode())
    back_from_stripe(client, stripe_fake, options, "pm_paypal")
    next_action = client.post(reverse("shop:checkout_review"), review_form(client)).url
    payment = Payment.objects.get()
    assert payment.method == "paypal"
    stripe_fake.complete_action(payment.provider_reference)

    response = client.get(next_action)

    assert response.status_code == 302
    assert response.url == payment.return_url
    client.get(response.url)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORIZED


def test_a_forged_next_action_link_says_so(client, stripe_fake):
    response = client.get(reverse("stripe:next_action"), {"t": "pi_123"})
    assert response.status_code == 400


def test_the_stripe_pages_are_not_there_with_the_sandbox(client):
    assert client.get(reverse("stripe:payment_form")).status_code == 404
    assert client.get(reverse("stripe:next_action")).status_code == 404


def test_the_sandbox_pages_are_not_there_with_stripe(client, stripe_fake):
    assert client.get("/sandbox/pay/anything/").status_code == 404
    assert client.get("/sandbox/3ds/anything/").status_code == 404
