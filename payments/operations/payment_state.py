"""A payment's state as the operations change it, under its lock.

What every money operation does to the payment row once it holds the lock:
save the fields operations may change, move its status (``move`` refuses a
transition ``PAYMENT_TRANSITIONS`` does not allow; ``settle_status``, after
the provider moved money, never refuses but flags), flag it for staff, record
a failure on the ledger, queue the customer's e-mail, and expire a lapsed
authorization. The engine (``payments.operations.engine``) and the verbs call
these; nothing here calls a provider or takes a lock.
"""

import logging

from payments.emails import customer_email_queue
from payments.exceptions import InvalidPaymentTransition
from payments.models import (
    CustomerEmail,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from payments.operations import keys, ledger

logger = logging.getLogger(__name__)

# What the worker-run operations may change on a payment.
_MUTABLE_FIELDS = [
    "status",
    "captured_amount",
    "refunded_amount",
    "needs_attention",
    "failure_code",
    "failure_message",
    "updated_at",
]


def save(payment: Payment) -> None:
    payment.save(update_fields=_MUTABLE_FIELDS)


def move(payment: Payment, status: str) -> None:
    """Change the status if ``PAYMENT_TRANSITIONS`` allows it; raise otherwise."""
    if not payment.can_transition_to(status):
        raise InvalidPaymentTransition(
            f"Payment {payment.pk} is {payment.status} and cannot become {status}."
        )
    payment.status = status


def settle_status(payment: Payment, status: str) -> None:
    """Move to ``status`` after the provider moved money; never raise at that point.

    The money is recorded whatever the status; an unexpected status (changed
    meanwhile) is flagged for staff rather than losing the record.
    """
    if payment.status == status:
        return
    if payment.can_transition_to(status):
        payment.status = status
    else:
        flag(
            payment,
            "unexpected_status",
            f"The provider moved money while the payment was {payment.status}; "
            f"expected to become {status}. Check the ledger.",
        )


def flag(payment: Payment, code: str, message: str) -> None:
    """Show the payment to staff (filter *Needs attention*) with the reason."""
    payment.needs_attention = True
    payment.failure_code = code
    payment.failure_message = message
    logger.error("Payment %s needs attention: %s", payment.pk, message)


def ledger_failure(
    payment: Payment,
    requested: PaymentLedgerEntry,
    code: str,
    message: str,
    *,
    flagged: bool = True,
) -> None:
    ledger.record_next(payment, requested, LedgerEvent.FAILED, error_code=code, message=message)
    if flagged:
        flag(payment, code, message)


def queue_email_after(
    payment: Payment, kind: str, requested: PaymentLedgerEntry, amount: int
) -> None:
    """Queue the customer e-mail for a success, in the transaction that records it.

    The e-mail is keyed by the request (one per operation) and carries the
    amount that moved.
    """
    customer_email_queue(
        key=keys.email_for(kind, requested.idempotency_key),
        kind=kind,
        order_id=payment.order_id,
        ledger_entry=requested,
        amount=amount,
    )


def expire(payment: Payment) -> None:
    """Mark a lapsed authorization expired and ask the customer for a new one.

    Called under the payment's lock. A hold that lapses while still in fraud
    review is only flagged: staff decide (cancel the order, or contact the
    customer).
    """
    in_review = payment.status == PaymentStatus.IN_REVIEW
    left = payment.authorized_amount - payment.captured_amount
    move(payment, PaymentStatus.EXPIRED)
    ledger.record(
        payment,
        operation=LedgerOperation.EXPIRE,
        event=LedgerEvent.SUCCEEDED,
        amount=left,
        idempotency_key=keys.expire(payment.pk),
    )
    lapsed = f"The authorization lapsed on {payment.authorization_expires_at:%Y-%m-%d %H:%M}"
    flag(
        payment,
        "authorization_expired",
        f"{lapsed} while in fraud review: cancel the order or contact the customer."
        if in_review
        else f"{lapsed} before everything was captured; the customer was asked to authorize again.",
    )
    if in_review:
        return
    customer_email_queue(
        key=keys.email_reauthorize(payment.pk),
        kind=CustomerEmail.Kind.REAUTHORIZE,
        order_id=payment.order_id,
        amount=left,
    )
