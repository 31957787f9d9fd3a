from unittest import mock

import pytest
from django.core import mail

from orders.models import Order, OrderStatus, Shipment
from orders.services import order_ship
from orders.signals import order_shipped
from payments.exceptions import ProviderRejected, ProviderUnavailable
from payments.models import CustomerEmail, LedgerEvent, Payment, PaymentLedgerEntry, PaymentStatus
from payments.providers.sandbox.models import SandboxCapture
from payments.providers.sandbox.provider import SandboxProvider
from payments.services import OperationOutcome, payment_capture
from tests.factories import ProductVariantFactory
from tests.helpers import capture_key, place_order, send_placed_emails

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    variant = ProductVariantFactory(product__price_amount=12900, stock=3)
    order = place_order({variant.pk: 2})  # 2 × 129,00 € + 6,90 € shipping
    send_placed_emails()
    return order


def test_sending_order_shipped_leads_to_exactly_one_capture_and_one_email(order, run_tasks):
    shipment = Shipment.objects.create(order=order, carrier="colissimo", amount=order.total_amount)

    order_shipped.send(sender=Order, order=order, shipment=shipment)
    order_shipped.send(sender=Order, order=order, shipment=shipment)  # a duplicate signal
    run_tasks()
    run_tasks()

    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.captured_amount == 26490
    assert SandboxCapture.objects.filter(charge_id=payment.provider_reference).count() == 1
    assert len(mail.outbox) == 1
    assert "264,90" in mail.outbox[0].body


def test_shipping_records_the_capture_request_in_the_same_transaction(order, run_tasks):
    shipment = order_ship(order_id=order.pk, carrier="colissimo", tracking_number="6A123")

    key = capture_key(shipment)
    requested = PaymentLedgerEntry.objects.get(idempotency_key=key, event=LedgerEvent.REQUESTED)
    assert requested.amount == order.total_amount
    # Nothing moved yet: the provider is only called by the worker.
    assert SandboxCapture.objects.count() == 0
    assert run_tasks() == 2  # the capture, then the e-mail it queued
    assert SandboxCapture.objects.count() == 1


def test_debit_email_names_amount_card_and_order(order, run_tasks):
    order_ship(order_id=order.pk, carrier="colissimo", tracking_number="6A123")
    run_tasks()

    [message] = mail.outbox
    assert message.to == ["claire@example.com"]
    assert order.number in message.subject
    assert "264,90 €" in message.subject.replace("\xa0", " ").replace("\u202f", " ")
    assert "Visa" in message.body and "4242" in message.body
    assert "6A123" in message.body
    html = message.alternatives[0].content
    assert "4242" in html


def test_debit_email_is_in_the_customers_language(run_tasks):
    variant = ProductVariantFactory(product__price_amount=12900)
    order = place_order({variant.pk: 1}, language="en")
    send_placed_emails()
    order_ship(order_id=order.pk, carrier="dhl")
    run_tasks()

    [message] = mail.outbox
    assert "€135.90" in message.subject
    assert "debited" in message.body


def test_a_capture_task_run_twice_captures_and_emails_once(order, run_tasks):
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = Payment.objects.get(order=order)
    key = capture_key(shipment)

    first = payment_capture(payment_id=payment.pk, idempotency_key=key)
    second = payment_capture(payment_id=payment.pk, idempotency_key=key)
    run_tasks()  # the queued task runs a third time

    assert (first, second) == (OperationOutcome.SUCCEEDED, OperationOutcome.ALREADY_DONE)
    assert SandboxCapture.objects.count() == 1
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.CAPTURED).count() == 1
    assert len(mail.outbox) == 1


def test_a_lost_answer_is_recovered_by_the_retry_without_capturing_twice(order, run_tasks):
    """The provider captured but the worker died before writing it down."""
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = Payment.objects.get(order=order)
    key = capture_key(shipment)
    real_capture = SandboxProvider.capture

    def capture_then_crash(self, request):
        real_capture(self, request)
        raise ProviderUnavailable("connection reset after the provider answered")

    with mock.patch.object(SandboxProvider, "capture", capture_then_crash):
        outcome = payment_capture(payment_id=payment.pk, idempotency_key=key)
    assert outcome == OperationOutcome.RETRY_SCHEDULED
    payment.refresh_from_db()
    assert payment.captured_amount == 0

    assert payment_capture(payment_id=payment.pk, idempotency_key=key, attempt=2) == (
        OperationOutcome.SUCCEEDED
    )
    payment.refresh_from_db()
    assert payment.captured_amount == order.total_amount
    assert SandboxCapture.objects.count() == 1


def test_a_transient_error_schedules_a_retry_with_backoff(order, settings):
    from django_tasks_db.models import DBTaskResult

    settings.PAYMENTS_CAPTURE_RETRY_BASE_SECONDS = 30
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = Payment.objects.get(order=order)
    key = capture_key(shipment)

    with mock.patch.object(SandboxProvider, "capture", side_effect=ProviderUnavailable("503")):
        outcome = payment_capture(payment_id=payment.pk, idempotency_key=key, attempt=2)

    assert outcome == OperationOutcome.RETRY_SCHEDULED
    retry = DBTaskResult.objects.filter(
        task_path="payments.operations.engine.payment_operation_run_task"
    ).latest("enqueued_at")
    assert retry.args_kwargs["kwargs"]["attempt"] == 3
    delay = (retry.run_after - retry.enqueued_at).total_seconds()
    assert 59 <= delay <= 61  # 30 s × 2^(attempt - 1)


def test_a_permanent_refusal_is_recorded_and_visible(order):
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = Payment.objects.get(order=order)
    key = capture_key(shipment)

    with mock.patch.object(
        SandboxProvider,
        "capture",
        side_effect=ProviderRejected("refused", code="charge_not_capturable"),
    ):
        outcome = payment_capture(payment_id=payment.pk, idempotency_key=key)

    assert outcome == OperationOutcome.FAILED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORIZED
    assert payment.captured_amount == 0
    assert payment.needs_attention
    assert payment.failure_code == "charge_not_capturable"
    assert PaymentLedgerEntry.objects.filter(
        idempotency_key=key, event=LedgerEvent.FAILED, error_code="charge_not_capturable"
    ).exists()
    assert not CustomerEmail.objects.exclude(kind=CustomerEmail.Kind.PLACED).exists()
    # The task running again does not call the provider again.
    with mock.patch.object(SandboxProvider, "capture") as capture:
        assert payment_capture(payment_id=payment.pk, idempotency_key=key) == (
            OperationOutcome.FAILED
        )
    capture.assert_not_called()


def test_retries_stop_after_the_last_attempt(order, settings):
    settings.PAYMENTS_CAPTURE_MAX_ATTEMPTS = 3
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = Payment.objects.get(order=order)
    key = capture_key(shipment)

    with mock.patch.object(SandboxProvider, "capture", side_effect=ProviderUnavailable("503")):
        outcome = payment_capture(payment_id=payment.pk, idempotency_key=key, attempt=3)

    assert outcome == OperationOutcome.FAILED
    payment.refresh_from_db()
    assert payment.failure_code == "provider_unavailable"


def test_a_retry_scheduled_before_a_refusal_neither_calls_nor_records_again(order):
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = Payment.objects.get(order=order)
    key = capture_key(shipment)
    with mock.patch.object(SandboxProvider, "capture", side_effect=ProviderUnavailable("503")):
        assert payment_capture(payment_id=payment.pk, idempotency_key=key) == (
            OperationOutcome.RETRY_SCHEDULED
        )
    # A copy of the first task meets a refusal before the scheduled retry runs.
    refused = ProviderRejected("refused", code="charge_not_capturable")
    with mock.patch.object(SandboxProvider, "capture", side_effect=refused):
        assert payment_capture(payment_id=payment.pk, idempotency_key=key) == (
            OperationOutcome.FAILED
        )

    with mock.patch.object(SandboxProvider, "capture") as capture:
        outcome = payment_capture(payment_id=payment.pk, idempotency_key=key, attempt=2)

    assert outcome == OperationOutcome.FAILED
    capture.assert_not_called()
    assert (
        PaymentLedgerEntry.objects.filter(idempotency_key=key, event=LedgerEvent.FAILED).count()
        == 1
    )


def test_staff_retry_of_a_capture_left_unanswered_asks_again_under_its_key(order, settings):
    from payments.services import payment_retry_failed_captures

    settings.PAYMENTS_CAPTURE_MAX_ATTEMPTS = 1
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = Payment.objects.get(order=order)
    key = capture_key(shipment)
    with mock.patch.object(SandboxProvider, "capture", side_effect=ProviderUnavailable("503")):
        assert payment_capture(payment_id=payment.pk, idempotency_key=key) == (
            OperationOutcome.FAILED
        )

    assert payment_retry_failed_captures(order_id=order.pk) == 1
    outcome = payment_capture(payment_id=payment.pk, idempotency_key=key)

    assert outcome == OperationOutcome.SUCCEEDED
    payment.refresh_from_db()
    assert payment.captured_amount == order.total_amount
    assert not payment.needs_attention
    assert SandboxCapture.objects.count() == 1


def test_shipping_an_order_whose_payment_is_not_capturable_is_refused(order):
    from orders.exceptions import ShipmentBlocked

    Payment.objects.filter(order=order).update(status=PaymentStatus.VOIDED)

    with pytest.raises(ShipmentBlocked):
        order_ship(order_id=order.pk, carrier="colissimo")

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert not Shipment.objects.exists()
    assert not PaymentLedgerEntry.objects.filter(event=LedgerEvent.REQUESTED).exists()


def test_the_ledger_is_append_only(order):
    from payments.models import AppendOnlyError

    entry = PaymentLedgerEntry.objects.first()
    entry.amount = 1
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        PaymentLedgerEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        PaymentLedgerEntry.objects.update(amount=0)
