"""What payments did when a parcel shipped, read back typed from its records, and what staff
see of it: the ship page's message and the shipping run's report, in the reader's language."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from orders.bulk_shipping import shipping_run_confirm, shipping_run_start
from orders.models import Order, Shipment
from orders.services import order_ship
from payments.admin_order import shipment_payment_text
from payments.models import Payment, PaymentMethod, PaymentStatus
from payments.selectors import ShipmentPayment, ShipmentPaymentOutcome, shipment_payments
from payments.services import payment_retry_failed_captures
from shop.money import format_money
from tests.factories import ProductVariantFactory
from tests.helpers import place_order
from tests.payments.test_methods import pay_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")


def two_line_order() -> Order:
    return place_order(
        {
            ProductVariantFactory(product__price_amount=5000).pk: 1,
            ProductVariantFactory(product__price_amount=7000).pk: 1,
        }
    )


def test_each_parcel_reads_back_as_its_capture_queued_with_amount_and_currency(
    django_assert_num_queries,
):
    order = two_line_order()
    first_line = order.lines.order_by("pk").first()
    first = order_ship(order_id=order.pk, carrier="colissimo", lines={first_line.pk: 1})
    last = order_ship(order_id=order.pk, carrier="colissimo")
    assert first.amount != last.amount  # two parcels, two captures

    with django_assert_num_queries(1):  # both found on the ledger
        said = shipment_payments(shipments=[first, last])

    assert said == {
        first.pk: ShipmentPayment(
            shipment_id=first.pk,
            outcome=ShipmentPaymentOutcome.CAPTURE_QUEUED,
            amount=first.amount,
            currency=order.currency,
        ),
        last.pk: ShipmentPayment(
            shipment_id=last.pk,
            outcome=ShipmentPaymentOutcome.CAPTURE_QUEUED,
            amount=last.amount,
            currency=order.currency,
        ),
    }
    assert first.amount + last.amount == order.amount_due


def test_an_order_paid_at_the_order_reads_back_as_already_paid(client, django_assert_num_queries):
    pay_with(client, "alipay")
    order = Order.objects.get()
    payment = Payment.objects.get()
    shipment = order_ship(order_id=order.pk, carrier="colissimo")

    with django_assert_num_queries(2):  # no capture request, then the payment paid at the order
        said = shipment_payments(shipments=[shipment])

    assert said == {
        shipment.pk: ShipmentPayment(
            shipment_id=shipment.pk,
            outcome=ShipmentPaymentOutcome.PAID_AT_ORDER,
            amount=payment.captured_amount,
            currency=order.currency,
            method=PaymentMethod.ALIPAY,
        )
    }
    assert payment.captured_amount == order.total_amount
    assert "Alipay" in shipment_payment_text(said[shipment.pk])


def test_a_parcel_payments_refuses_is_not_recorded_and_the_ship_page_says_why(
    client, staff, english
):
    order = place_order({ProductVariantFactory().pk: 1})
    Payment.objects.filter(order=order).update(status=PaymentStatus.EXPIRED)
    client.force_login(staff)

    response = client.post(
        reverse("admin:orders_order_ship") + f"?ids={order.pk}",
        {"carrier": "colissimo"},
        follow=True,
    )

    [(level, message)] = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert level == "error"
    assert f"Order {order.number} cannot ship: the authorization expired" in message
    assert not Shipment.objects.exists()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_ship_page_says_the_capture_of_the_parcel_is_queued(client, staff, language, request):
    if language == "en":
        request.getfixturevalue("english")
    order = place_order({ProductVariantFactory(product__price_amount=12900).pk: 1})
    client.force_login(staff)

    response = client.post(
        reverse("admin:orders_order_ship") + f"?ids={order.pk}",
        {"carrier": "colissimo"},
        follow=True,
    )

    [message] = [str(m) for m in response.context["messages"]]
    amount = format_money(Shipment.objects.get().amount, order.currency, language)
    assert order.number in message
    queued = {
        "fr": f"L’encaissement de {amount} est en file d’attente",
        "en": f"The capture of {amount} is queued",
    }
    assert queued[language] in message


def test_the_shipping_run_report_says_per_order_what_payments_did(
    client, staff, run_tasks, english
):
    card = place_order({ProductVariantFactory(product__price_amount=5000).pk: 1})
    declined = place_order(
        {ProductVariantFactory(product__price_amount=6000).pk: 1}, number="4000000000000341"
    )
    pay_with(client, "alipay")
    alipay = Order.objects.exclude(pk__in=[card.pk, declined.pk]).get()
    run = shipping_run_start(order_ids=[card.pk, declined.pk, alipay.pk], started_by=staff)
    shipping_run_confirm(run_id=run.pk, carrier="colissimo")
    run_tasks()  # the run's chunk, then the captures it queued
    client.force_login(staff)

    page = client.get(reverse("admin:orders_shippingrun", args=[run.pk]))

    details = {line.result.order_id: line.details for line in page.context["report_lines"]}
    card_amount = format_money(Shipment.objects.get(order=card).amount, "EUR", "en")
    declined_amount = format_money(Shipment.objects.get(order=declined).amount, "EUR", "en")
    assert details[card.pk].startswith(f"{card_amount} captured")
    assert details[declined.pk] == (
        f"The capture of {declined_amount} failed: The bank declined the capture."
    )
    assert details[alipay.pk].startswith("It was already paid with Alipay at the order")
    assert card_amount in page.content.decode()


def test_a_parcel_reads_back_queued_then_captured_then_failed_and_retried(run_tasks):
    captured = place_order({ProductVariantFactory().pk: 1})
    declined = place_order({ProductVariantFactory().pk: 1}, number="4000000000000341")
    first = order_ship(order_id=captured.pk, carrier="colissimo")
    second = order_ship(order_id=declined.pk, carrier="colissimo")
    outcomes = ShipmentPaymentOutcome
    queued = shipment_payments(shipments=[first, second])
    assert [queued[first.pk].outcome, queued[second.pk].outcome] == [outcomes.CAPTURE_QUEUED] * 2

    run_tasks()
    done = shipment_payments(shipments=[first, second])
    assert done[first.pk] == ShipmentPayment(
        shipment_id=first.pk,
        outcome=outcomes.CAPTURED,
        amount=first.amount,
        currency=captured.currency,
    )
    assert done[second.pk].outcome == outcomes.CAPTURE_FAILED
    assert done[second.pk].error_code == "capture_declined"

    assert payment_retry_failed_captures(order_id=declined.pk) == 1  # staff's retry
    retried = shipment_payments(shipments=[second])
    assert retried[second.pk].outcome == outcomes.CAPTURE_QUEUED
    assert retried[second.pk].error_code == ""
