"""Refund: staff give back part or all of what was captured.

The request is recorded by ``payment_request_refund`` (the admin's refund
form), keyed by the form's one-time token; the worker runs :class:`Refund`
through the engine. Refunds made in the provider's dashboard are recorded by
``payments.operations.provider_events`` with ``apply_refund``.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from payments.exceptions import InvalidPaymentTransition
from payments.models import (
    REFUNDABLE_STATUSES,
    CustomerEmail,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from payments.operations import engine, keys, ledger, payment_state
from payments.providers import get_provider
from payments.providers.base import RefundRequest, RefundResult
from shop.money import format_money


def payment_request_refund(*, payment_id: int, amount: int, request_token: str) -> None:
    """Record a refund staff asked for and enqueue it; idempotent per ``request_token``.

    Raises ``InvalidPaymentTransition`` (nothing recorded) when the amount is
    not positive or exceeds what was captured less what is refunded or
    being refunded.
    """
    with transaction.atomic():
        payment = engine.lock_payment(payment_id)
        key = keys.refund(request_token)
        if payment.ledger.filter(idempotency_key=key).exists():
            return
        available = payment.refundable_amount - ledger.pending_amount(
            payment, LedgerOperation.REFUND
        )
        if payment.status not in REFUNDABLE_STATUSES or available <= 0:
            raise InvalidPaymentTransition(_("nothing captured is left to refund"))
        if not 0 < amount <= available:
            raise InvalidPaymentTransition(
                _("a refund must be between %(min)s and %(max)s")
                % {
                    "min": format_money(1, payment.currency),
                    "max": format_money(available, payment.currency),
                }
            )
        engine.request(payment, operation=LedgerOperation.REFUND, key=key, amount=amount)


@engine.register
class Refund(engine.Operation):
    """Give back a requested amount; the customer is e-mailed once it is refunded."""

    operation = LedgerOperation.REFUND

    def check(self, payment: Payment, requested: PaymentLedgerEntry) -> engine.Refusal | None:
        if requested.amount > payment.refundable_amount:
            return engine.Refusal(
                "amount_too_large",
                f"{requested.amount} asked, {payment.refundable_amount} refundable.",
            )
        return None

    def call(self, payment: Payment, requested: PaymentLedgerEntry) -> RefundResult:
        return get_provider(payment.provider).refund(
            RefundRequest(
                provider_reference=payment.provider_reference,
                amount=requested.amount,
                currency=payment.currency,
                idempotency_key=requested.idempotency_key,
            )
        )

    def apply(self, payment: Payment, requested: PaymentLedgerEntry, result: RefundResult) -> int:
        apply_refund(payment, requested, result.refunded_amount)
        return result.refunded_amount


def payment_refund(
    *, payment_id: int, idempotency_key: str, attempt: int = 1
) -> engine.OperationOutcome:
    """Run a requested refund (:class:`Refund`); safe to run any number of times."""
    return Refund(payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt).run()


def apply_refund(payment: Payment, requested: PaymentLedgerEntry, amount: int) -> None:
    """Record refunded money on the payment (under its lock) and queue the customer e-mail."""
    payment.refunded_amount += amount
    # Only a settled payment shows its refunds in its status; a partly
    # captured or expired one keeps the status that says what is left.
    if payment.status in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
        everything = payment.refunded_amount == payment.captured_amount
        payment_state.settle_status(
            payment,
            PaymentStatus.REFUNDED if everything else PaymentStatus.PARTIALLY_REFUNDED,
        )
    payment_state.queue_email_after(payment, CustomerEmail.Kind.REFUNDED, requested, amount)
