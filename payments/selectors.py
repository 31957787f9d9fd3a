"""Reads of payments with what their pages need, in a fixed number of queries."""

from dataclasses import dataclass

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from orders.models import Order
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
