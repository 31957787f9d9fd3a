"""Split shipments, cancellation, refunds and expiry, through the services."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from orders.exceptions import InvalidOrderTransition, OrderError, ShipmentBlocked
from orders.models import OrderStatus, Shipment
from orders.services import order_cancel, order_ship
from payments.exceptions import InvalidPaymentTransition, ProviderRejected
from payments.models import CustomerEmail, LedgerEvent, LedgerOperation, Payment, PaymentStatus
from payments.providers.sandbox.models import SandboxCapture, SandboxCharge
from payments.providers.sandbox.provider import SandboxProvider
from payments.services import (
    OperationOutcome,
    payment_capture,
    payment_request_refund,
    payment_watch_authorizations,
)
from tests.factories import ProductVariantFactory
from tests.helpers import capture_key, card_token

pytestmark = pytest.mark.django_db


def lines(order):
    dress, scarf = sorted(order.lines.all(), key=lambda line: -line.unit_price_amount)
    return dress, scarf


def payment_of(order) -> Payment:
    return Payment.objects.filter(order=order).latest("pk")


def make_deferred_ready():
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())


def amounts(kind):
    return sorted(CustomerEmail.objects.filter(kind=kind).values_list("amount", flat=True))


def test_each_parcel_captures_its_value_and_the_last_one_the_rest(order, run_tasks):
    dress, _scarf = lines(order)

    first = order_ship(order_id=order.pk, carrier="colissimo", lines={dress.pk: 1})
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert first.amount == 10000 + 690  # its line, and shipping with the first parcel
    run_tasks()
    assert payment_of(order).status == PaymentStatus.PARTIALLY_CAPTURED

    last = order_ship(order_id=order.pk, carrier="colissimo")  # everything left
    run_tasks()

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert last.is_final and last.amount == 10000 + 5000
    payment = payment_of(order)
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.captured_amount == order.total_amount == 25690
    assert SandboxCapture.objects.count() == 2
    assert amounts(CustomerEmail.Kind.CAPTURED) == [10690, 15000]
    assert len(mail.outbox) == 2


def test_the_last_parcels_capture_waits_for_the_earlier_parcels_capture(order, run_tasks):
    """A final capture closes the hold: run first, it is deferred, nothing sent to the provider."""
    dress, _scarf = lines(order)
    first = order_ship(order_id=order.pk, carrier="colissimo", lines={dress.pk: 1})
    last = order_ship(order_id=order.pk, carrier="colissimo")
    payment = payment_of(order)

    outcome = payment_capture(payment_id=payment.pk, idempotency_key=capture_key(last))

    assert outcome == OperationOutcome.DEFERRED
    assert not SandboxCapture.objects.exists()
    entries = payment.ledger.filter(idempotency_key=capture_key(last)).order_by("pk")
    assert [(e.event, e.error_code) for e in entries] == [
        (LedgerEvent.REQUESTED, ""),
        (LedgerEvent.RETRY_SCHEDULED, "captures_pending"),
    ]
    payment.refresh_from_db()
    assert (payment.needs_attention, payment.captured_amount) == (False, 0)

    run_tasks()  # the first parcel's capture (the deferred one is due later)
    make_deferred_ready()
    run_tasks()

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.captured_amount == first.amount + last.amount == order.total_amount
    captures = SandboxCapture.objects.order_by("pk").values_list("idempotency_key", flat=True)
    assert list(captures) == [capture_key(first), capture_key(last)]


def test_a_line_cannot_ship_twice_or_beyond_its_quantity(order):
    dress, scarf = lines(order)
    order_ship(order_id=order.pk, carrier="colissimo", lines={scarf.pk: 1})

    for bad in [{scarf.pk: 1}, {dress.pk: 3}, {dress.pk: -1}, {999999: 1}, {dress.pk: 0}]:
        with pytest.raises(OrderError):
            order_ship(order_id=order.pk, carrier="colissimo", lines=bad)

    assert Shipment.objects.count() == 1
    assert payment_of(order).ledger.filter(event=LedgerEvent.REQUESTED).count() == 1


def test_cancelling_before_shipping_releases_the_hold_and_tells_the_customer(order, run_tasks):
    dress, _scarf = lines(order)

    order_cancel(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.amount_due == 0
    dress.variant.refresh_from_db()
    assert dress.variant.stock == 5
    run_tasks()

    payment = payment_of(order)
    assert payment.status == PaymentStatus.VOIDED
    assert payment.captured_amount == 0
    assert SandboxCharge.objects.get().status == SandboxCharge.Status.VOIDED
    assert amounts(CustomerEmail.Kind.VOIDED) == [25690]
    [message] = mail.outbox
    assert order.number in message.subject
    assert "256,90" in message.body
    with pytest.raises(InvalidOrderTransition):
        order_ship(order_id=order.pk, carrier="colissimo")


def test_cancelling_the_rest_waits_for_the_parcels_capture_then_releases(order, run_tasks):
    dress, scarf = lines(order)
    order_ship(order_id=order.pk, carrier="colissimo", lines={dress.pk: 2})
    order_cancel(order_id=order.pk)  # before the worker captured the parcel

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert order.amount_due == 20690
    scarf.refresh_from_db()
    assert scarf.cancelled_quantity == 1
    # Whatever order the tasks run in, the capture goes first.
    for _ in range(4):
        make_deferred_ready()
        run_tasks()

    payment = payment_of(order)
    assert payment.captured_amount == 20690
    assert payment.status == PaymentStatus.CAPTURED
    assert SandboxCharge.objects.get().status == SandboxCharge.Status.CAPTURED
    assert amounts(CustomerEmail.Kind.VOIDED) == [5000]


def test_a_void_the_provider_refuses_is_shown_to_staff(order, run_tasks):
    order_cancel(order_id=order.pk)
    with mock.patch.object(
        SandboxProvider, "void", side_effect=ProviderRejected("no", code="charge_not_voidable")
    ):
        run_tasks()

    payment = payment_of(order)
    assert payment.needs_attention
    assert payment.failure_code == "charge_not_voidable"
    assert payment.ledger.filter(operation=LedgerOperation.VOID, event=LedgerEvent.FAILED).exists()
    assert not CustomerEmail.objects.filter(kind=CustomerEmail.Kind.VOIDED).exists()


def test_refunds_are_capped_at_what_was_captured_less_refunds(order, run_tasks):
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment = payment_of(order)

    payment_request_refund(payment_id=payment.pk, amount=5000, request_token="r1")
    payment_request_refund(payment_id=payment.pk, amount=5000, request_token="r1")  # resubmit
    with pytest.raises(InvalidPaymentTransition):  # 25690 − 5000 pending = 20690 left
        payment_request_refund(payment_id=payment.pk, amount=20691, request_token="r2")
    for bad in [0, -100]:
        with pytest.raises(InvalidPaymentTransition):
            payment_request_refund(payment_id=payment.pk, amount=bad, request_token="r3")
    run_tasks()

    payment.refresh_from_db()
    assert payment.refunded_amount == 5000
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED

    payment_request_refund(payment_id=payment.pk, amount=20690, request_token="r4")
    run_tasks()
    payment.refresh_from_db()
    assert payment.refunded_amount == payment.captured_amount
    assert payment.status == PaymentStatus.REFUNDED
    assert amounts(CustomerEmail.Kind.REFUNDED) == [5000, 20690]
    assert SandboxCapture.objects.filter(kind="refund").count() == 2
    with pytest.raises(InvalidPaymentTransition):
        payment_request_refund(payment_id=payment.pk, amount=1, request_token="r5")


def test_nothing_can_be_refunded_before_a_capture(order):
    with pytest.raises(InvalidPaymentTransition):
        payment_request_refund(payment_id=payment_of(order).pk, amount=100, request_token="x")


def test_staff_are_warned_once_of_holds_lapsing_within_48_hours(order, settings):
    settings.STAFF_NOTIFICATION_EMAIL = ["warehouse@example.com"]
    payment = payment_of(order)
    lapses = payment.authorization_expires_at

    assert payment_watch_authorizations(now=lapses - timedelta(hours=49)).warned == []
    report = payment_watch_authorizations(now=lapses - timedelta(hours=47))
    again = payment_watch_authorizations(now=lapses - timedelta(hours=46))

    assert report.warned == [payment.pk]
    assert again.warned == []
    [warning] = mail.outbox
    assert warning.to == ["warehouse@example.com"]
    assert order.number in warning.body


def test_a_lapsed_hold_is_expired_the_customer_asked_again_and_shipping_refused(
    order, client, run_tasks
):
    payment = payment_of(order)
    report = payment_watch_authorizations(now=payment.authorization_expires_at)
    run_tasks()

    payment.refresh_from_db()
    assert report.expired == [payment.pk]
    assert payment.status == PaymentStatus.EXPIRED
    assert payment.needs_attention
    email = CustomerEmail.objects.get(kind=CustomerEmail.Kind.REAUTHORIZE)
    assert email.amount == order.total_amount
    [message] = mail.outbox
    link = next(word for word in message.body.split() if "/authorize/?sig=" in word)
    with pytest.raises(ShipmentBlocked, match="expir"):
        order_ship(order_id=order.pk, carrier="colissimo")

    # The customer follows the link and authorizes again through the sandbox.
    path = link.removeprefix("http://127.0.0.1:8000")
    assert client.get(path).status_code == 200
    assert client.get(path.replace("sig=", "sig=x")).status_code == 404
    response = client.post(path)
    card_page = response.url
    response = client.post(
        card_page, {"number": "4242424242424242", "expiry": "12/34", "security_code": "123"}
    )
    client.get(response.url)

    new = payment_of(order)
    assert new.pk != payment.pk
    assert new.status == PaymentStatus.AUTHORIZED
    assert new.authorized_amount == order.total_amount
    payment.refresh_from_db()
    assert not payment.needs_attention
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    new.refresh_from_db()
    assert new.captured_amount == order.total_amount


def test_a_capture_refused_as_expired_moves_to_the_new_authorization(order, run_tasks):
    dress, _scarf = lines(order)
    order_ship(order_id=order.pk, carrier="colissimo", lines={dress.pk: 1})
    SandboxCharge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    run_tasks()

    old = payment_of(order)
    assert old.status == PaymentStatus.EXPIRED
    assert old.captured_amount == 0
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REAUTHORIZE).exists()

    from payments.services import payment_authorize, payment_create_for_order

    token, card = card_token()
    new = payment_create_for_order(order_id=order.pk, payment_token=token, card=card)
    assert new.amount == order.total_amount  # nothing was captured yet
    payment_authorize(payment_id=new.pk)
    run_tasks()

    new.refresh_from_db()
    assert new.captured_amount == 10690
    assert SandboxCapture.objects.filter(kind="capture").count() == 1


def test_an_operation_whose_worker_died_is_enqueued_again(order, run_tasks, settings):
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    DBTaskResult.objects.all().delete()  # the worker took the task and died with it
    assert run_tasks() == 0

    later = timezone.now() + timedelta(minutes=settings.PAYMENTS_STALE_OPERATION_MINUTES + 1)
    report = payment_watch_authorizations(now=later)
    run_tasks()

    assert report.requeued == [capture_key(shipment)]
    assert payment_of(order).captured_amount == order.total_amount


def test_capture_of_more_than_is_left_is_refused_before_the_provider(order):
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = payment_of(order)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.VOIDED)

    with mock.patch.object(SandboxProvider, "capture") as capture:
        outcome = payment_capture(payment_id=payment.pk, idempotency_key=capture_key(shipment))
    assert outcome == "failed"
    capture.assert_not_called()


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.PENDING_PAYMENT])
def test_a_cancelled_or_unconfirmed_order_cannot_ship_or_cancel(order, status):
    type(order).objects.filter(pk=order.pk).update(status=status)
    with pytest.raises(InvalidOrderTransition):
        order_ship(order_id=order.pk, carrier="colissimo")
    with pytest.raises(InvalidOrderTransition):
        order_cancel(order_id=order.pk)
    assert not Shipment.objects.exists()


def test_what_was_captured_before_a_hold_lapsed_can_be_refunded(order, run_tasks):
    dress, _scarf = lines(order)
    order_ship(order_id=order.pk, carrier="colissimo", lines={dress.pk: 1})
    run_tasks()
    payment = payment_of(order)
    payment_watch_authorizations(now=payment.authorization_expires_at)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED

    payment_request_refund(payment_id=payment.pk, amount=10690, request_token="after-expiry")
    run_tasks()

    payment.refresh_from_db()
    assert payment.refunded_amount == 10690
    assert payment.status == PaymentStatus.EXPIRED
    assert amounts(CustomerEmail.Kind.REFUNDED) == [10690]


def test_the_orders_paid_and_outstanding_amounts_follow_from_the_ledger(order, run_tasks):
    from payments.selectors import order_balance

    dress, _scarf = lines(order)
    assert (order_balance(order=order).paid, order_balance(order=order).outstanding) == (0, 25690)

    order_ship(order_id=order.pk, carrier="colissimo", lines={dress.pk: 1})
    run_tasks()
    payment_request_refund(payment_id=payment_of(order).pk, amount=690, request_token="p")
    run_tasks()

    balance = order_balance(order=order)
    assert (balance.captured, balance.refunded) == (10690, 690)
    assert (balance.paid, balance.outstanding) == (10000, 15000)
    order_cancel(order_id=order.pk)
    order.refresh_from_db()
    assert order_balance(order=order).outstanding == 0


def test_a_checkout_abandoned_at_the_3d_secure_page_releases_its_stock(settings, run_tasks):
    import uuid

    from orders.services import order_place
    from payments.services import payment_authorize, payment_create_for_order
    from tests.helpers import customer

    variant = ProductVariantFactory(stock=2)
    order = order_place(
        checkout_token=uuid.uuid4(),
        quantities={variant.pk: 1},
        customer=customer(),
        shipping_method="standard",
        language="fr",
    )
    token, card = card_token("4000002760003184")
    payment = payment_create_for_order(order_id=order.pk, payment_token=token, card=card)
    payment = payment_authorize(payment_id=payment.pk, return_url="http://testserver/back/")
    assert payment.action_url  # the shopper is sent to the bank... and never comes back

    later = timezone.now() + timedelta(minutes=settings.PAYMENTS_STALE_OPERATION_MINUTES + 1)
    payment_watch_authorizations(now=later)

    order.refresh_from_db()
    payment.refresh_from_db()
    variant.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_FAILED
    assert payment.failure_code == "authentication_abandoned"
    assert variant.stock == 2

    # The challenge is closed at the provider, in the worker: finishing it later holds nothing.
    run_tasks()
    from payments.providers.sandbox import gateway

    charge = gateway.challenge_complete(charge_id=payment.provider_reference, outcome="approve")
    assert charge.status == SandboxCharge.Status.VOIDED
    payment.refresh_from_db()
    assert (payment.status, payment.needs_attention) == (PaymentStatus.FAILED, False)
    void = payment.ledger.get(operation=LedgerOperation.VOID, event=LedgerEvent.SUCCEEDED)
    assert void.amount == 0
    assert not CustomerEmail.objects.exists()  # the shopper was told at checkout


def test_waiting_for_captures_does_not_use_up_the_voids_attempts(order, run_tasks, settings):
    settings.PAYMENTS_CAPTURE_MAX_ATTEMPTS = 2
    dress, _scarf = lines(order)
    order_ship(order_id=order.pk, carrier="colissimo", lines={dress.pk: 2})
    order_cancel(order_id=order.pk)
    payment = payment_of(order)
    void_key = f"void-payment-{payment.pk}"
    from payments.services import payment_void

    for _ in range(5):  # the parcel's capture has not run: the void keeps waiting
        assert payment_void(payment_id=payment.pk, idempotency_key=void_key) == "deferred"
    retry = DBTaskResult.objects.filter(
        task_path="payments.operations.engine.payment_operation_run_task"
    ).latest("enqueued_at")
    assert retry.args_kwargs["kwargs"]["attempt"] == 1
