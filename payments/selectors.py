"""Reads of payments with what their pages need, in a fixed number of queries."""

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from orders.models import Order, Shipment
from payments.methods import METHODS, is_paid_at_order
from payments.models import LedgerEvent, LedgerOperation, Payment, PaymentLedgerEntry


def payment_latest_for_order(*, order_id: int) -> Payment | None:
    return Payment.objects.filter(order_id=order_id).order_by("-created_at", "-pk").first()


@dataclass(frozen=True)
class OrderBalance:
    """An order's money, from the ledger's successes (one query)."""

    currency: str
    amount_due: int
    captured: int
    refunded: int

    @property
    def paid(self) -> int:
        """What the customer has paid and kept paid: captured less refunded."""
        return self.captured - self.refunded

    @property
    def outstanding(self) -> int:
        """What is still to be captured for the order."""
        return max(self.amount_due - self.captured, 0)


def order_balance(*, order: Order) -> OrderBalance:
    sums = PaymentLedgerEntry.objects.filter(
        order_id=order.pk, event=LedgerEvent.SUCCEEDED
    ).aggregate(
        captured=Coalesce(Sum("amount", filter=Q(operation=LedgerOperation.CAPTURE)), 0),
        refunded=Coalesce(Sum("amount", filter=Q(operation=LedgerOperation.REFUND)), 0),
    )
    return OrderBalance(
        currency=order.currency,
        amount_due=order.amount_due,
        captured=sums["captured"],
        refunded=sums["refunded"],
    )


class ShipmentPaymentOutcome(enum.StrEnum):
    """What the payments side did when a parcel shipped (``payment_request_capture``)."""

    # The parcel's capture was requested and is queued or under way: ``amount`` of ``currency``.
    CAPTURE_QUEUED = "capture_queued"
    # The provider took ``amount`` of ``currency`` for the parcel.
    CAPTURED = "captured"
    # The capture failed for good; ``error_code`` says why (``payments.ledger_texts``).
    CAPTURE_FAILED = "capture_failed"
    # Paid at the order by a method that debits then (Alipay): nothing to capture;
    # ``amount`` is what that payment took, ``method`` its code (``payments.methods``).
    PAID_AT_ORDER = "paid_at_order"


@dataclass(frozen=True)
class ShipmentPayment:
    """The payments side of one parcel, as its records say (a shipment refused by
    payments was rolled back: it has none)."""

    shipment_id: int
    outcome: ShipmentPaymentOutcome
    amount: int
    currency: str
    method: str = ""
    # A failed capture's entry, as the ledger keeps it (``ledger_texts`` words it).
    error_code: str = ""
    message: str = ""


# Where a parcel's capture stands, by its newest entry: any other (attempted, a
# retry scheduled by the engine or by staff, a new request) means under way.
_CAPTURE_ENDED = {
    LedgerEvent.SUCCEEDED: ShipmentPaymentOutcome.CAPTURED,
    LedgerEvent.FAILED: ShipmentPaymentOutcome.CAPTURE_FAILED,
}


def shipment_payments(*, shipments: Sequence[Shipment]) -> dict[int, ShipmentPayment]:
    """What payments did for each parcel, by shipment id: two queries, any number of parcels.

    A parcel with capture entries on the ledger had its capture queued; the
    newest entry says where it stands now: a success, a failure, or anything
    else (attempted, a retry scheduled, staff's retry after a failure) still
    under way. Otherwise, an order paid at the order by a method that debits
    then had nothing to capture (``payment_request_capture`` decides it in
    that order, so never both).
    """
    ids = [shipment.pk for shipment in shipments]
    found: dict[int, ShipmentPayment] = {}
    entries = PaymentLedgerEntry.objects.filter(
        shipment_id__in=ids, operation=LedgerOperation.CAPTURE
    ).order_by("pk")
    for entry in entries.only(
        "shipment_id", "event", "amount", "currency", "error_code", "message"
    ):
        outcome = _CAPTURE_ENDED.get(entry.event, ShipmentPaymentOutcome.CAPTURE_QUEUED)
        failed = outcome is ShipmentPaymentOutcome.CAPTURE_FAILED
        found[entry.shipment_id] = ShipmentPayment(
            shipment_id=entry.shipment_id,
            outcome=outcome,
            amount=entry.amount,
            currency=entry.currency,
            error_code=entry.error_code if failed else "",
            message=entry.message if failed else "",
        )
    rest = [shipment for shipment in shipments if shipment.pk not in found]
    if not rest:
        return found
    paid = Payment.objects.filter(
        order_id__in={shipment.order_id for shipment in rest},
        captured_amount__gt=0,
        method__in=[method for method in METHODS if is_paid_at_order(method)],
    ).order_by("pk")
    paid_by_order = {}
    for payment in paid:
        paid_by_order.setdefault(payment.order_id, payment)
    for shipment in rest:
        payment = paid_by_order.get(shipment.order_id)
        if payment is not None:
            found[shipment.pk] = ShipmentPayment(
                shipment_id=shipment.pk,
                outcome=ShipmentPaymentOutcome.PAID_AT_ORDER,
                amount=payment.captured_amount,
                currency=payment.currency,
                method=payment.method,
            )
    return found
