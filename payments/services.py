"""State changes of payments: one function per business verb.

Every money move follows the same steps: under a row lock on the payment,
check the transition and write an ``attempted`` ledger entry with the
idempotency key derived from the business operation; release the lock and
call the provider; then, under the lock again, write the outcome and update
the amounts. A retry sends the same key, so the provider moves money at
most once, and the ledger accepts at most one success per key.
"""

import enum
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderStatus
from orders.services import order_confirm, order_fail_payment
from payments.emails import customer_email_queue
from payments.exceptions import (
    InvalidPaymentTransition,
    PaymentDeclined,
    PaymentError,
    ProviderRejected,
    ProviderUnavailable,
)
from payments.models import (
    CAPTURABLE_STATUSES,
    CustomerEmail,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from payments.providers import get_provider
from payments.providers.base import (
    AuthorizeRequest,
    CaptureRequest,
    CardDetails,
    CardSessionRequest,
    CardSessionResult,
    CompletedCardSession,
)

logger = logging.getLogger(__name__)


class CaptureOutcome(enum.StrEnum):
    CAPTURED = "captured"
    ALREADY_CAPTURED = "already_captured"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"


def payment_qs_select_for_update():
    """Payments locked in primary-key order, so two transactions never deadlock."""
    return Payment.objects.select_for_update().order_by("pk")


def _lock_payment(payment_id: int) -> Payment:
    return payment_qs_select_for_update().get(pk=payment_id)


def _move(payment: Payment, status: str) -> None:
    if not payment.can_transition_to(status):
        raise InvalidPaymentTransition(
            f"Payment {payment.pk} is {payment.status} and cannot become {status}."
        )
    payment.status = status


def _ledger(
    payment: Payment,
    *,
    operation: str,
    event: str,
    amount: int,
    idempotency_key: str,
    provider_reference: str = "",
    error_code: str = "",
    message: str = "",
) -> PaymentLedgerEntry:
    return PaymentLedgerEntry.objects.create(
        payment=payment,
        order_id=payment.order_id,
        operation=operation,
        event=event,
        amount=amount,
        currency=payment.currency,
        idempotency_key=idempotency_key,
        provider_reference=provider_reference,
        error_code=error_code,
        message=message,
    )


# Card form ----------------------------------------------------------------


def payment_card_session_start(
    *, amount: int, currency: str, return_url: str, cancel_url: str, language: str
) -> CardSessionResult:
    """Open the provider's hosted card form for the shopper to fill in."""
    return get_provider().create_card_session(
        CardSessionRequest(
            amount=amount,
            currency=currency,
            return_url=return_url,
            cancel_url=cancel_url,
            language=language,
        )
    )


def payment_card_session_read(*, session_id: str) -> CompletedCardSession | None:
    """The card the shopper entered, read from the provider (never from the browser)."""
    if not session_id or len(session_id) > 100:
        return None
    return get_provider().retrieve_card_session(session_id)


# Authorization --------------------------------------------------------------


def payment_create_for_order(*, order_id: int, payment_token: str, card: CardDetails) -> Payment:
    """The payment that will authorize this order's total; one pending payment per order."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise InvalidPaymentTransition(f"Order {order.number} is not awaiting payment.")
        existing = order.payments.filter(status=PaymentStatus.PENDING).first()
        if existing is not None:
            return existing
        return Payment.objects.create(
            order=order,
            provider=settings.PAYMENTS_PROVIDER,
            payment_token=payment_token,
            currency=order.currency,
            amount=order.total_amount,
            card_brand=card.brand,
            card_last4=card.last4,
            card_exp_month=card.exp_month,
            card_exp_year=card.exp_year,
        )


def payment_authorize(*, payment_id: int) -> Payment:
    """Ask the provider to hold the order total; confirm the order or fail it.

    Runs in the shopper's request (they wait for the answer). Idempotent:
    the key is derived from the payment, so a repeated call replays the
    provider's first answer. On a decline the order is marked declined, its
    stock released, and ``PaymentDeclined`` is raised for the view to explain.
    """
    key = f"authorize-payment-{payment_id}"
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        if payment.status != PaymentStatus.PENDING:
            return payment
        _ledger(
            payment,
            operation=LedgerOperation.AUTHORIZE,
            event=LedgerEvent.ATTEMPTED,
            amount=payment.amount,
            idempotency_key=key,
        )
        order_number = payment.order.number
    request = AuthorizeRequest(
        amount=payment.amount,
        currency=payment.currency,
        payment_token=payment.payment_token,
        order_reference=order_number,
        idempotency_key=key,
    )
    provider = get_provider(payment.provider)
    try:
        try:
            result = provider.authorize(request)
        except ProviderUnavailable:
            result = provider.authorize(request)  # same key: safe to ask once more
    except PaymentError as error:
        with transaction.atomic():
            payment = _lock_payment(payment_id)
            if payment.status == PaymentStatus.PENDING:
                _ledger(
                    payment,
                    operation=LedgerOperation.AUTHORIZE,
                    event=LedgerEvent.FAILED,
                    amount=payment.amount,
                    idempotency_key=key,
                    error_code=error.code,
                    message=str(error),
                )
                _move(payment, PaymentStatus.FAILED)
                payment.failure_code = error.code
                payment.failure_message = str(error)
                payment.save(update_fields=["status", "failure_code", "failure_message"])
                order_fail_payment(order_id=payment.order_id)
        raise

    with transaction.atomic():
        payment = _lock_payment(payment_id)
        if payment.status != PaymentStatus.PENDING:
            return payment
        _ledger(
            payment,
            operation=LedgerOperation.AUTHORIZE,
            event=LedgerEvent.SUCCEEDED,
            amount=result.authorized_amount,
            idempotency_key=key,
            provider_reference=result.provider_reference,
        )
        _move(payment, PaymentStatus.AUTHORIZED)
        payment.provider_reference = result.provider_reference
        payment.authorized_amount = result.authorized_amount
        payment.authorized_at = timezone.now()
        payment.authorization_expires_at = result.expires_at
        payment.save(
            update_fields=[
                "status",
                "provider_reference",
                "authorized_amount",
                "authorized_at",
                "authorization_expires_at",
            ]
        )
        order_confirm(order_id=payment.order_id)
    return payment


# Capture --------------------------------------------------------------------


def capture_key_for_shipment(shipment_id: int) -> str:
    return f"capture-shipment-{shipment_id}"


def payment_request_capture(*, order_id: int, shipment_id: int, amount: int, currency: str) -> None:
    """Record that a shipment must be charged and enqueue the capture task.

    Called inside the shipment's transaction (by the ``order_shipped``
    receiver): the request and its task commit with the shipment or not at
    all. Raises ``InvalidPaymentTransition`` when nothing can be captured,
    which rolls the shipment back. Idempotent per shipment.
    """
    key = capture_key_for_shipment(shipment_id)
    from payments.tasks import capture_payment

    with transaction.atomic():
        payment = (
            payment_qs_select_for_update()
            .filter(order_id=order_id, status__in=CAPTURABLE_STATUSES)
            .first()
        )
        if payment is None:
            raise InvalidPaymentTransition(
                f"Order {order_id} has no authorized payment to capture."
            )
        if payment.ledger.filter(idempotency_key=key, event=LedgerEvent.REQUESTED).exists():
            return
        if currency != payment.currency or amount > payment.capturable_amount:
            raise InvalidPaymentTransition(
                f"Cannot capture {amount} {currency}: {payment.capturable_amount} "
                f"{payment.currency} is left on payment {payment.pk}."
            )
        _ledger(
            payment,
            operation=LedgerOperation.CAPTURE,
            event=LedgerEvent.REQUESTED,
            amount=amount,
            idempotency_key=key,
        )
        capture_payment.enqueue(payment_id=payment.pk, idempotency_key=key)


def payment_capture(*, payment_id: int, idempotency_key: str, attempt: int = 1) -> CaptureOutcome:
    """Capture what a capture request asks for; safe to run any number of times.

    Called by the worker. The provider call runs with no lock held and with
    the request's idempotency key. A transient provider error schedules a
    retry with exponential backoff; a permanent one is recorded as failed
    on the ledger and the payment. A success updates the amounts and queues
    the debit e-mail in the same transaction, so it is queued exactly once.
    """
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        entries = {
            entry.event: entry
            for entry in payment.ledger.filter(
                idempotency_key=idempotency_key,
                event__in=[LedgerEvent.REQUESTED, LedgerEvent.SUCCEEDED],
            )
        }
        if LedgerEvent.SUCCEEDED in entries:
            return CaptureOutcome.ALREADY_CAPTURED
        requested = entries.get(LedgerEvent.REQUESTED)
        if requested is None:
            raise PaymentError(f"No capture was requested under {idempotency_key!r}.")
        amount = requested.amount
        if payment.status not in CAPTURABLE_STATUSES or amount > payment.capturable_amount:
            reason = (
                f"Nothing left to capture: payment is {payment.get_status_display()}, "
                f"{payment.capturable_amount} left, {amount} asked."
            )
            _record_capture_failure(payment, idempotency_key, amount, "not_capturable", reason)
            return CaptureOutcome.FAILED
        final = amount == payment.capturable_amount
        _ledger(
            payment,
            operation=LedgerOperation.CAPTURE,
            event=LedgerEvent.ATTEMPTED,
            amount=amount,
            idempotency_key=idempotency_key,
            message=f"attempt {attempt}",
        )
    request = CaptureRequest(
        provider_reference=payment.provider_reference,
        amount=amount,
        currency=payment.currency,
        idempotency_key=idempotency_key,
        final=final,
    )
    try:
        result = get_provider(payment.provider).capture(request)
    except ProviderUnavailable as error:
        return _capture_retry_or_fail(payment_id, idempotency_key, amount, attempt, error)
    except (ProviderRejected, PaymentDeclined) as error:
        with transaction.atomic():
            payment = _lock_payment(payment_id)
            _record_capture_failure(payment, idempotency_key, amount, error.code, str(error))
        return CaptureOutcome.FAILED

    with transaction.atomic():
        payment = _lock_payment(payment_id)
        if payment.ledger.filter(
            idempotency_key=idempotency_key, event=LedgerEvent.SUCCEEDED
        ).exists():
            return CaptureOutcome.ALREADY_CAPTURED
        entry = _ledger(
            payment,
            operation=LedgerOperation.CAPTURE,
            event=LedgerEvent.SUCCEEDED,
            amount=result.captured_amount,
            idempotency_key=idempotency_key,
            provider_reference=result.provider_reference,
        )
        payment.captured_amount += result.captured_amount
        fully = final or payment.captured_amount == payment.authorized_amount
        _move(payment, PaymentStatus.CAPTURED if fully else PaymentStatus.PARTIALLY_CAPTURED)
        payment.failure_code = ""
        payment.failure_message = ""
        payment.save(update_fields=["status", "captured_amount", "failure_code", "failure_message"])
        customer_email_queue(
            key=f"captured-{entry.pk}",
            kind=CustomerEmail.Kind.CAPTURED,
            order_id=payment.order_id,
            ledger_entry=entry,
        )
    return CaptureOutcome.CAPTURED


def _record_capture_failure(
    payment: Payment, key: str, amount: int, code: str, message: str
) -> None:
    _ledger(
        payment,
        operation=LedgerOperation.CAPTURE,
        event=LedgerEvent.FAILED,
        amount=amount,
        idempotency_key=key,
        error_code=code,
        message=message,
    )
    payment.failure_code = code
    payment.failure_message = message
    payment.save(update_fields=["failure_code", "failure_message"])
    logger.error("Capture %s of payment %s failed: %s", key, payment.pk, message)


def _capture_retry_or_fail(
    payment_id: int, key: str, amount: int, attempt: int, error: PaymentError
) -> CaptureOutcome:
    from payments.tasks import capture_payment

    with transaction.atomic():
        payment = _lock_payment(payment_id)
        if attempt >= settings.PAYMENTS_CAPTURE_MAX_ATTEMPTS:
            message = f"Provider unavailable after {attempt} attempts: {error}"
            _record_capture_failure(payment, key, amount, error.code, message)
            return CaptureOutcome.FAILED
        delay = timedelta(seconds=settings.PAYMENTS_CAPTURE_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
        _ledger(
            payment,
            operation=LedgerOperation.CAPTURE,
            event=LedgerEvent.FAILED,
            amount=amount,
            idempotency_key=key,
            error_code=error.code,
            message=f"attempt {attempt}: {error}; retrying in {int(delay.total_seconds())} s",
        )
        capture_payment.using(run_after=timezone.now() + delay).enqueue(
            payment_id=payment_id, idempotency_key=key, attempt=attempt + 1
        )
    return CaptureOutcome.RETRY_SCHEDULED
