"""Which method is offered where, and a wallet payment from the sheet to the capture."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from orders.models import Order, OrderStatus
from orders.services import order_cancel, order_ship
from payments.methods import METHODS, authorization_validity, methods_offered
from payments.models import CustomerEmail, Payment, PaymentStatus
from payments.providers.sandbox.models import SandboxCapture
from tests.factories import ProductVariantFactory
from tests.helpers import capture_key, place_order

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
IPHONE_CHROME = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
ANDROID_FIREFOX = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Safari/605.1.15"
)


@pytest.mark.parametrize(
    ("user_agent", "codes"),
    [
        (IPHONE_SAFARI, ["apple_pay", "card", "paypal", "alipay"]),
        (IPHONE_CHROME, ["card", "paypal", "alipay"]),
        (ANDROID_CHROME, ["google_pay", "card", "paypal", "alipay"]),
        (ANDROID_FIREFOX, ["card", "paypal", "alipay"]),
        (DESKTOP_CHROME, ["card", "paypal", "alipay"]),
        (MAC_SAFARI, ["card", "paypal", "alipay"]),
        ("", ["card", "paypal", "alipay"]),
    ],
)
def test_wallets_are_offered_only_where_the_device_supports_them(user_agent, codes):
    assert [spec.code for spec in methods_offered(user_agent)] == codes


def test_every_method_says_when_money_moves_and_how_long_a_hold_lasts():
    for spec in METHODS.values():
        assert spec.capture in {"manual", "immediate"}
        assert authorization_validity(spec.code).days == spec.authorization_days


def test_the_hold_lasts_as_configured_per_method(settings):
    settings.PAYMENTS_AUTHORIZATION_DAYS = {"card": 5}
    assert authorization_validity("card").days == 5
    assert authorization_validity("apple_pay").days == 7


@pytest.mark.django_db
def test_an_android_shopper_pays_with_google_pay_without_typing_a_card(client, run_tasks):
    from tests.shop.test_checkout import DETAILS, fill_cart, review_form

    variant = ProductVariantFactory(product__price_amount=12900, stock=3)
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
    page = client.get(reverse("shop:checkout_payment"), HTTP_USER_AGENT=ANDROID_CHROME)
    assert 'value="google_pay"' in page.content.decode()
    assert 'value="apple_pay"' not in page.content.decode()

    response = client.post(
        reverse("shop:checkout_payment"), {"method": "google_pay"}, HTTP_USER_AGENT=ANDROID_CHROME
    )
    sheet = client.get(response.url)
    assert "Google Pay" in sheet.content.decode()
    assert 'name="number"' not in sheet.content.decode()  # nothing to type
    response = client.post(response.url, {"outcome": "pay"})
    client.get(response.url)
    assert client.session["checkout"]["payment"]["method"] == "google_pay"
    client.post(reverse("shop:checkout_review"), review_form(client))

    order = Order.objects.get()
    payment = Payment.objects.get()
    assert order.status == OrderStatus.CONFIRMED
    assert (payment.method, payment.status) == ("google_pay", PaymentStatus.AUTHORIZED)
    assert payment.card_display == "Google Pay (Visa •••• 1881)"
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment.refresh_from_db()
    assert payment.captured_amount == order.total_amount


@pytest.mark.django_db
def test_a_wallet_not_offered_to_this_browser_is_refused(client):
    from tests.shop.test_checkout import DETAILS, fill_cart

    fill_cart(client, ProductVariantFactory(stock=3))
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})

    response = client.post(
        reverse("shop:checkout_payment"), {"method": "apple_pay"}, HTTP_USER_AGENT=DESKTOP_CHROME
    )
    assert response.status_code == 422
    response = client.post(reverse("shop:checkout_payment"), {"method": "bitcoin"})
    assert response.status_code == 422


@pytest.mark.django_db
def test_cancelling_the_wallet_sheet_comes_back_with_the_cart(client):
    from tests.shop.test_checkout import DETAILS, fill_cart

    variant = ProductVariantFactory(stock=3)
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
    response = client.post(
        reverse("shop:checkout_payment"), {"method": "apple_pay"}, HTTP_USER_AGENT=IPHONE_SAFARI
    )
    response = client.post(response.url, {"outcome": "cancel"})

    assert response.url.endswith(reverse("shop:checkout_payment") + "?cancelled=1")
    assert client.session["cart"] == {str(variant.pk): 1}
    assert "payment" not in client.session["checkout"]


def pay_with(client, method, user_agent=DESKTOP_CHROME, outcome="pay"):
    """Checkout with PayPal or Alipay: the service's own page, then back to the shop."""
    from tests.shop.test_checkout import DETAILS, fill_cart, review_form

    variant = ProductVariantFactory(product__price_amount=12900, stock=3)
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
    response = client.post(
        reverse("shop:checkout_payment"), {"method": method}, HTTP_USER_AGENT=user_agent
    )
    page = client.get(response.url).content.decode()
    assert 'name="number"' not in page  # no card details on PayPal's or Alipay's page
    response = client.post(response.url, {"outcome": outcome})
    if outcome != "pay":
        return variant, response
    client.get(response.url)
    return variant, client.post(reverse("shop:checkout_review"), review_form(client), follow=True)


@pytest.mark.django_db
def test_paypal_is_approved_on_its_page_and_captured_at_shipment(client, run_tasks):
    _variant, response = pay_with(client, "paypal")

    order = Order.objects.get()
    payment = Payment.objects.get()
    assert order.status == OrderStatus.CONFIRMED
    assert (payment.method, payment.status) == ("paypal", PaymentStatus.AUTHORIZED)
    assert payment.captured_amount == 0
    assert "PayPal" in response.content.decode()
    assert payment.authorization_expires_at - payment.authorized_at > timedelta(days=28)

    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment.refresh_from_db()
    assert payment.captured_amount == order.total_amount
    placed, message = mail.outbox  # at the order, then the debit
    assert "PayPal" in placed.body and "PayPal" in message.body


@pytest.mark.django_db
def test_cancelling_on_paypals_page_keeps_the_cart(client):
    variant, response = pay_with(client, "paypal", outcome="cancel")

    assert response.url.endswith(reverse("shop:checkout_payment") + "?cancelled=1")
    page = client.get(response.url).content.decode()
    assert "nothing was charged" in page or "aucun montant" in page.lower()
    assert client.session["cart"] == {str(variant.pk): 1}
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_alipay_takes_the_money_at_the_order_and_shipping_captures_nothing(client, run_tasks):
    _variant, response = pay_with(client, "alipay")

    order = Order.objects.get()
    payment = Payment.objects.get()
    assert order.status == OrderStatus.CONFIRMED
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.captured_amount == order.total_amount
    page = response.content.decode()
    assert "Vous avez payé" in page or "You paid" in page

    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    assert SandboxCapture.objects.count() == 0  # nothing more moved at shipment
    placed, message = mail.outbox
    assert {e.kind for e in CustomerEmail.objects.all()} == {
        CustomerEmail.Kind.PLACED,
        CustomerEmail.Kind.SHIPPED_PAID,
    }
    assert "Alipay" in placed.body and "Alipay" in message.body


@pytest.mark.django_db
def test_cancelling_an_alipay_order_refunds_it(client, run_tasks):
    pay_with(client, "alipay")
    order = Order.objects.get()

    order_cancel(order_id=order.pk)
    run_tasks()

    payment = Payment.objects.get()
    assert payment.refunded_amount == order.total_amount
    assert payment.status == PaymentStatus.REFUNDED
    assert {e.kind for e in CustomerEmail.objects.all()} == {
        CustomerEmail.Kind.PLACED,
        CustomerEmail.Kind.REFUNDED,
    }


@pytest.mark.django_db
def test_staff_are_told_an_alipay_order_was_already_paid_when_it_ships(client, run_tasks):
    from django.contrib.auth import get_user_model

    pay_with(client, "alipay")
    order = Order.objects.get()
    staff = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    client.force_login(staff)

    response = client.post(
        reverse("admin:orders_order_ship") + f"?ids={order.pk}",
        {"carrier": "colissimo"},
        follow=True,
    )

    [message] = [str(m) for m in response.context["messages"]][-1:]
    assert "Alipay" in message
    assert not Payment.objects.get().ledger.filter(event="requested").exists()


@pytest.mark.django_db
def test_another_shoppers_alipay_order_does_not_make_a_card_order_paid(client, run_tasks):
    """Shipping a card order captures its own hold, whoever else paid with Alipay at the order."""

    pay_with(client, "alipay")
    card_order = place_order({ProductVariantFactory(product__price_amount=5000).pk: 1})

    shipment = order_ship(order_id=card_order.pk, carrier="colissimo")
    run_tasks()

    payment = Payment.objects.get(order=card_order)
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.captured_amount == card_order.total_amount
    assert SandboxCapture.objects.get().idempotency_key == capture_key(shipment)
    assert CustomerEmail.objects.get(order=card_order, kind=CustomerEmail.Kind.CAPTURED).sent_at
