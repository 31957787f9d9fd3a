"""Void: an order cancelled, what is left of its hold is released.

The request is recorded in the cancellation's transaction
(``payment_request_void``, called by the ``order_cancelled`` receiver); the
worker runs :class:`Void` through the engine with the key ``keys.void``. The
customer reads "hold released": that is what a void is, seen from their side.
"""

from django.db import transaction

from orders.models import Order
from payments.methods import METHODS, is_paid_at_order
from payments.models import (
    CAPTURABLE_STATUSES,
    REFUNDABLE_STATUSES,
    VOIDABLE_STATUSES,
    CustomerEmail,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from payments.operations import engine, keys, ledger, payment_state
from payments.providers import get_provider
from payments.providers.base import VoidRequest, VoidResult


def payment_request_void(*, order_id: int) -> None:
    """Record that what is left of the order's hold must be released, and enqueue it.

    Called in the cancellation's transaction (``order_cancelled``), with the
    order already locked. Captures already requested for shipped parcels go
    first: the void waits for them. Nothing is requested when no
    authorization is left to release. An order paid at once (Alipay) has
    nothing to void: what will not ship is refunded instead.
    """
    with transaction.atomic():
        paid = (
            engine.payment_qs_select_for_update()
            .filter(order_id=order_id, status__in=REFUNDABLE_STATUSES)
            .filter(method__in=[m for m in METHODS if is_paid_at_order(m)])
            .first()
        )
        if paid is not None:
            owed = Order.objects.get(pk=order_id).amount_due
            surplus = (
                paid.refundable_amount - ledger.pending_amount(paid, LedgerOperation.REFUND) - owed
            )
            if surplus > 0:
                engine.request(
                    paid,
                    operation=LedgerOperation.REFUND,
                    key=keys.refund_cancellation(order_id),
                    amount=surplus,
                )
            return
        payment = (
            engine.payment_qs_select_for_update()
            .filter(order_id=order_id, status__in=VOIDABLE_STATUSES)
            .first()
        )
        if payment is None:
            return
        engine.request(
            payment,
            operation=LedgerOperation.VOID,
            key=keys.void(payment.pk),
            amount=payment.capturable_amount if payment.status in CAPTURABLE_STATUSES else 0,
        )


@engine.register
class Void(engine.Operation):
    """Release what is left of an authorization; tells the customer once released."""

    operation = LedgerOperation.VOID

    def check(self, payment: Payment, requested: PaymentLedgerEntry) -> engine.Refusal | None:
        # A failed payment is voided only to cancel an abandoned authentication.
        if payment.status not in VOIDABLE_STATUSES and payment.status != PaymentStatus.FAILED:
            return engine.Refusal(
                "not_voidable", f"Nothing to release: payment is {payment.get_status_display()}."
            )
        if ledger.pending(payment, LedgerOperation.CAPTURE):
            return engine.Refusal("captures_pending", "Waiting for requested captures.", defer=True)
        return None

    def call(self, payment: Payment, requested: PaymentLedgerEntry) -> VoidResult:
        return get_provider(payment.provider).void(
            VoidRequest(
                provider_reference=payment.provider_reference,
                idempotency_key=requested.idempotency_key,
            )
        )

    def apply(self, payment: Payment, requested: PaymentLedgerEntry, result: VoidResult) -> int:
        if payment.status == PaymentStatus.FAILED:
            return result.released_amount  # the customer was told at checkout; it stays failed
        payment_state.settle_status(
            payment, PaymentStatus.CAPTURED if payment.captured_amount else PaymentStatus.VOIDED
        )
        payment_state.queue_email_after(
            payment, CustomerEmail.Kind.VOIDED, requested, result.released_amount
        )
        return result.released_amount


def payment_void(
    *, payment_id: int, idempotency_key: str, attempt: int = 1
) -> engine.OperationOutcome:
    """Run a requested void (:class:`Void`); safe to run any number of times."""
    return Void(payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt).run()
