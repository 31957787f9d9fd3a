"""Fraud review and the sandbox's other test cards, through services, views and admin."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from orders.exceptions import InvalidOrderTransition
from orders.models import OrderStatus, Shipment
from orders.services import order_cancel, order_ship
from payments.exceptions import PaymentDeclined
from payments.models import CustomerEmail, Payment, PaymentStatus
from payments.services import payment_request_review_approval
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
    from payments.exceptions import InvalidPaymentTransition

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
    assert not CustomerEmail.objects.exists()


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
    from payments.exceptions import InvalidPaymentTransition

    order_cancel(order_id=order_in_review.pk)
    with pytest.raises(InvalidPaymentTransition):
        payment_request_review_approval(order_id=order_in_review.pk)
