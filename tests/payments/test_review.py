"""Fraud review and the sandbox's other test cards, through services, views and admin."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django_tasks_db.models import DBTaskResult

from orders.exceptions import InvalidOrderTransition, ShipmentBlocked
from orders.models import Order, OrderStatus, Shipment
from orders.services import order_cancel, order_ship
from orders.signals import order_shipped
from payments.exceptions import InvalidPaymentTransition, PaymentDeclined
from payments.models import (
    CustomerEmail,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from payments.providers.sandbox.models import SandboxCapture
from payments.services import OperationOutcome, payment_capture, payment_request_review_approval
from tests.factories import ProductVariantFactory
from tests.helpers import place_order

pytestmark = pytest.mark.django_db
REVIEW = "4000000000009235"


@pytest.fixture
def order_in_review():
    return place_order({ProductVariantFactory(product__price_amount=20000).pk: 1}, number=REVIEW)


def test_a_review_card_holds_the_order_as_being_verified_and_says_so(order_in_review, run_tasks):
    order = order_in_review
    payment = Payment.objects.get(order=order)
    assert order.status == OrderStatus.IN_REVIEW
    assert payment.status == PaymentStatus.IN_REVIEW
    assert payment.authorized_amount == order.total_amount
    run_tasks()
    [message] = mail.outbox
    assert order.number in message.subject
    assert CustomerEmail.objects.get().kind == CustomerEmail.Kind.IN_REVIEW


def test_an_order_in_review_cannot_ship_and_says_why(order_in_review):
    with pytest.raises(InvalidOrderTransition, match=order_in_review.number):
        order_ship(order_id=order_in_review.pk, carrier="colissimo")
    assert not Shipment.objects.exists()


def test_approving_confirms_the_order_and_tells_the_customer(order_in_review, run_tasks):
    payment_request_review_approval(order_id=order_in_review.pk)
    payment_request_review_approval(order_id=order_in_review.pk)  # clicked twice
    run_tasks()

    order_in_review.refresh_from_db()
    payment = Payment.objects.get(order=order_in_review)
    assert order_in_review.status == OrderStatus.CONFIRMED
    assert payment.status == PaymentStatus.AUTHORIZED
    kinds = sorted(CustomerEmail.objects.values_list("kind", flat=True))
    assert kinds == ["in_review", "review_approved"]

    order_ship(order_id=order_in_review.pk, carrier="colissimo")
    run_tasks()
    payment.refresh_from_db()
    assert payment.captured_amount == order_in_review.total_amount


def test_rejecting_voids_the_hold_cancels_the_order_and_tells_the_customer(
    order_in_review, run_tasks
):
    order_cancel(order_id=order_in_review.pk)
    run_tasks()

    order_in_review.refresh_from_db()
    payment = Payment.objects.get(order=order_in_review)
    assert order_in_review.status == OrderStatus.CANCELLED
    assert payment.status == PaymentStatus.VOIDED
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.VOIDED).count() == 1


def test_approving_an_order_not_in_review_is_refused(run_tasks):
    order = place_order({ProductVariantFactory().pk: 1})
    with pytest.raises(InvalidPaymentTransition):
        payment_request_review_approval(order_id=order.pk)


def test_staff_approve_in_the_admin(client, order_in_review, run_tasks):
    user = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    client.force_login(user)
    page = client.get(reverse("admin:orders_order_change", args=[order_in_review.pk]))
    assert "ship-link" not in page.content.decode()
    # Said once, on the page itself, not as a message that doubles an action's outcome.
    assert "in-review-notice" in page.content.decode()
    assert list(page.context["messages"]) == []

    client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "approve_review", "_selected_action": [order_in_review.pk]},
    )
    run_tasks()
    order_in_review.refresh_from_db()
    assert order_in_review.status == OrderStatus.CONFIRMED


@pytest.mark.parametrize(
    ("number", "code"),
    [("4000000000000101", "incorrect_cvc"), ("4000000000000069", "expired_card")],
)
def test_declining_test_cards(number, code):
    variant = ProductVariantFactory(stock=2)
    with pytest.raises(PaymentDeclined) as error:
        place_order({variant.pk: 1}, number=number)
    assert error.value.code == code
    variant.refresh_from_db()
    assert variant.stock == 2


def test_a_capture_declined_at_shipment_is_shown_to_staff(run_tasks):
    order = place_order({ProductVariantFactory().pk: 1}, number="4000000000000341")
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()

    payment = Payment.objects.get(order=order)
    assert payment.captured_amount == 0
    assert payment.needs_attention
    assert payment.failure_code == "capture_declined"
    assert not CustomerEmail.objects.exclude(kind=CustomerEmail.Kind.PLACED).exists()


def test_approving_then_cancelling_before_the_worker_runs_releases_the_hold(
    order_in_review, run_tasks
):
    payment_request_review_approval(order_id=order_in_review.pk)
    order_cancel(order_id=order_in_review.pk)
    run_tasks()
    run_tasks()

    order_in_review.refresh_from_db()
    payment = Payment.objects.get(order=order_in_review)
    assert order_in_review.status == OrderStatus.CANCELLED
    assert payment.status == PaymentStatus.VOIDED
    assert not payment.needs_attention
    kinds = sorted(CustomerEmail.objects.values_list("kind", flat=True))
    assert kinds == ["in_review", "released"]


def test_an_order_cancelled_while_in_review_cannot_be_approved(order_in_review):
    order_cancel(order_id=order_in_review.pk)
    with pytest.raises(InvalidPaymentTransition):
        payment_request_review_approval(order_id=order_in_review.pk)


def test_no_capture_is_requested_against_a_hold_under_review(order_in_review):
    """The receiver refuses the parcel's capture itself, whatever the order side let through."""
    order = order_in_review
    shipment = Shipment.objects.create(order=order, carrier="colissimo", amount=order.total_amount)

    with (
        translation.override("en"),
        pytest.raises(ShipmentBlocked, match="still in fraud review") as blocked,
        transaction.atomic(),
    ):
        order_shipped.send(sender=Order, order=order, shipment=shipment)

    assert isinstance(blocked.value.__cause__, InvalidPaymentTransition)
    assert not PaymentLedgerEntry.objects.filter(operation="capture").exists()
    assert not DBTaskResult.objects.filter(
        task_path="payments.operations.engine.payment_operation_run_task",
        args_kwargs__kwargs__operation="capture",
    ).exists()
    assert Payment.objects.get(order=order).capturable_amount == 0


def test_the_worker_never_sends_a_capture_of_a_hold_under_review(order_in_review, run_tasks):
    """A capture request that meets a hold under review is refused before the provider hears."""
    order = order_in_review
    payment = Payment.objects.get(order=order)
    shipment = Shipment.objects.create(order=order, carrier="colissimo", amount=order.total_amount)
    key = f"capture-shipment-{shipment.pk}-payment-{payment.pk}"
    PaymentLedgerEntry.objects.create(
        payment=payment,
        order=order,
        shipment=shipment,
        operation=LedgerOperation.CAPTURE,
        event=LedgerEvent.REQUESTED,
        amount=order.total_amount,
        currency=payment.currency,
        idempotency_key=key,
    )

    outcome = payment_capture(payment_id=payment.pk, idempotency_key=key)

    assert outcome == OperationOutcome.FAILED
    events = list(
        PaymentLedgerEntry.objects.filter(idempotency_key=key).values_list("event", "error_code")
    )
    assert events == [(LedgerEvent.REQUESTED, ""), (LedgerEvent.FAILED, "not_capturable")]
    assert not SandboxCapture.objects.exists()
    payment.refresh_from_db()
    assert (payment.status, payment.captured_amount) == (PaymentStatus.IN_REVIEW, 0)
    run_tasks()
    assert not CustomerEmail.objects.filter(kind=CustomerEmail.Kind.CAPTURED).exists()
