"""A card session (sandbox) or ConfirmationToken (Stripe) belongs to the checkout that opened it.

Its id travels in the return URL's query string (access logs, browser
history): another browser that replays it gets a clear message, no order and
no authorization; so does a session too old, or a token used a second time.
"""

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from payments.emails import reauthorize_url
from payments.exceptions import CardSessionRefused
from payments.models import CardSession, Payment
from payments.operations.recovery import payment_watch_run
from payments.providers.sandbox.models import SandboxCharge
from payments.services import payment_watch_authorizations
from shop.checkout.services import PaymentChoice, checkout_place_order
from tests.factories import ProductVariantFactory
from tests.helpers import card_token, customer, place_order
from tests.payments.test_stripe import posts
from tests.shop.test_checkout import DETAILS, checkout_until_review, fill_cart, review_form
from tests.shop.test_checkout_stripe import back_from_stripe, options_of, payment_form

pytestmark = pytest.mark.django_db

NOT_YOURS = "do not belong to this checkout"
TOO_OLD = "entered too long ago"


@pytest.fixture
def variant():
    return ProductVariantFactory(product__price_amount=12900, product__slug="robe", stock=5)


def until_payment(client, variant):
    fill_cart(client, variant)
    assert client.post(reverse("shop:checkout_details"), DETAILS).status_code == 302
    assert client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"}).url


def sandbox_return_url(client, variant) -> str:
    """The victim's return URL, with its card session id, as an access log would show it."""
    until_payment(client, variant)
    card_page = client.post(reverse("shop:checkout_payment")).url
    back = client.post(
        card_page, {"number": "4242424242424242", "expiry": "12/34", "security_code": "123"}
    )
    assert back.status_code == 302
    return back.url


def refused(client, response, text) -> None:
    assert response.status_code == 302
    assert response.url == reverse("shop:checkout_payment")
    assert text in client.get(response.url).content.decode()


@pytest.mark.parametrize("victim_came_back", [True, False])
def test_another_browser_cannot_use_a_leaked_sandbox_card_session(
    client, variant, english, victim_came_back
):
    leaked = sandbox_return_url(client, variant)
    if victim_came_back:
        assert client.get(leaked).url == reverse("shop:checkout_review")

    attacker = Client()
    until_payment(attacker, variant)
    refused(attacker, attacker.get(leaked), NOT_YOURS)

    response = attacker.get(reverse("shop:checkout_review"))
    assert response.url == reverse("shop:checkout_payment")  # no card in its checkout
    assert not Order.objects.exists()
    assert not SandboxCharge.objects.exists()


def test_the_browser_that_opened_the_session_still_pays_with_it(client, variant):
    leaked = sandbox_return_url(client, variant)
    Client().get(leaked)  # someone else tried it first
    assert client.get(leaked).url == reverse("shop:checkout_review")
    response = client.post(reverse("shop:checkout_review"), review_form(client))
    order = Order.objects.get()
    assert response.url == reverse("shop:order_confirmation", kwargs={"token": order.token})


def test_a_card_session_too_old_is_refused_on_return(client, variant, english):
    leaked = sandbox_return_url(client, variant)
    CardSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    refused(client, client.get(leaked), TOO_OLD)


def test_a_card_session_too_old_is_refused_when_the_order_is_placed(client, variant, english):
    checkout_until_review(client, variant)
    form = review_form(client)
    CardSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    refused(client, client.post(reverse("shop:checkout_review"), form), TOO_OLD)
    assert not Order.objects.exists()
    assert not SandboxCharge.objects.exists()


def test_the_lifetime_is_a_setting(client, variant, settings):
    settings.PAYMENTS_CARD_SESSION_MINUTES = 30
    until_payment(client, variant)
    client.post(reverse("shop:checkout_payment"))
    session = CardSession.objects.get()
    assert session.expires_at - session.created_at == pytest.approx(
        timedelta(minutes=30), abs=timedelta(seconds=5)
    )


def place(checkout_token, token, card):
    return checkout_place_order(
        checkout_token=checkout_token,
        quantities={},
        customer=customer(),
        shipping_method="standard",
        language="fr",
        payment=PaymentChoice(method="card", payment_token=token, card=card),
    )


def test_a_token_works_once_and_only_for_its_checkout(variant):
    mine = uuid.uuid4()
    token, card = card_token(reference=str(mine))

    with pytest.raises(CardSessionRefused):
        place(uuid.uuid4(), token, card)  # another checkout, same token
    assert not Order.objects.exists()

    order = checkout_place_order(
        checkout_token=mine,
        quantities={variant.pk: 1},
        customer=customer(),
        shipping_method="standard",
        language="fr",
        payment=PaymentChoice(method="card", payment_token=token, card=card),
    ).order
    assert Payment.objects.get(order=order).payment_token == token
    with pytest.raises(CardSessionRefused):
        place(uuid.uuid4(), token, card)  # used: still not anyone else's
    assert Order.objects.count() == 1


def test_another_browser_cannot_use_a_leaked_confirmation_token(
    client, stripe_fake, variant, english
):
    until_payment(client, variant)
    options = options_of(payment_form(client).content.decode())
    back = back_from_stripe(client, stripe_fake, options)
    assert back.url == reverse("shop:checkout_review")
    leaked = CardSession.objects.get().returned_id

    attacker = Client()
    until_payment(attacker, variant)
    payment_form(attacker)  # the attacker's own Payment Element session
    refused(attacker, attacker.get(options["returnUrl"], {"session_id": leaked}), NOT_YOURS)
    assert not Order.objects.exists()
    assert not posts(stripe_fake, "/v1/payment_intents")


def test_a_confirmation_token_too_old_is_refused_before_stripe_hears_of_it(
    client, stripe_fake, variant, english
):
    until_payment(client, variant)
    options = options_of(payment_form(client).content.decode())
    back_from_stripe(client, stripe_fake, options)
    form = review_form(client)
    CardSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    refused(client, client.post(reverse("shop:checkout_review"), form), TOO_OLD)
    assert not Order.objects.exists()
    assert not posts(stripe_fake, "/v1/payment_intents")


def test_a_reauthorization_card_session_belongs_to_its_order(client, variant, english):
    first, second = place_order({variant.pk: 1}), place_order({variant.pk: 1})
    latest = max(p.authorization_expires_at for p in Payment.objects.all())
    payment_watch_authorizations(now=latest)
    second_link = urlsplit(reauthorize_url(second))
    card_page = client.post(f"{second_link.path}?{second_link.query}").url
    back = client.post(
        card_page, {"number": "4242424242424242", "expiry": "12/34", "security_code": "123"}
    )
    leaked = parse_qs(urlsplit(back.url).query)["session_id"][0]

    first_sig = parse_qs(urlsplit(reauthorize_url(first)).query)["sig"][0]
    response = client.get(
        reverse("shop:order_reauthorize_return", kwargs={"token": first.token}),
        {"sig": first_sig, "session_id": leaked},
    )

    assert response.status_code == 302
    assert NOT_YOURS in client.get(response.url).content.decode()
    assert Payment.objects.filter(order=first).count() == 1
    assert client.get(back.url).status_code == 302  # its own order still takes it
    assert Payment.objects.filter(order=second).count() == 2


def test_the_payments_check_purges_card_sessions_a_day_after_they_expire(client, variant):
    until_payment(client, variant)
    for _ in range(3):
        client.post(reverse("shop:checkout_payment"))
    old, recent, fresh = CardSession.objects.order_by("pk")
    now = timezone.now()
    CardSession.objects.filter(pk=old.pk).update(expires_at=now - timedelta(days=1, minutes=1))
    CardSession.objects.filter(pk=recent.pk).update(expires_at=now - timedelta(hours=23))

    report = payment_watch_run()

    assert report["card_sessions_purged"] == 1
    assert set(CardSession.objects.values_list("pk", flat=True)) == {recent.pk, fresh.pk}
