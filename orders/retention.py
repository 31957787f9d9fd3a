"""Retention of declined orders: which may go, and their removal (the orders side).

A declined order (``payment_failed``: its authorization was declined, or
abandoned and cancelled) never shipped and never will; past the retention
window it is personal data kept for nothing. This module says which orders
the orders side lets go and deletes them with their lines; it knows nothing
of payments, whose rows the caller removes first (``payments.operations.retention``,
which also vetoes any order whose payment ever held money).
"""

from collections.abc import Collection
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet

from orders.models import Order, OrderLine, OrderStatus, Shipment, ShippingRunResult


def order_qs_declined_before(cutoff: datetime) -> QuerySet[Order]:
    """Declined orders placed before ``cutoff`` that no parcel or shipping run names."""
    return (
        Order.objects.filter(status=OrderStatus.PAYMENT_FAILED, created_at__lt=cutoff)
        .exclude(Exists(Shipment.objects.filter(order=OuterRef("pk"))))
        .exclude(Exists(ShippingRunResult.objects.filter(order=OuterRef("pk"))))
    )


def order_purge_declined(*, order_ids: Collection[int], cutoff: datetime) -> tuple[int, int]:
    """Delete those of ``order_ids`` still declined before ``cutoff``, with their lines.

    The caller holds the orders' locks and has removed what other apps keep
    about them. Returns ``(orders, lines)`` deleted. The stock of a declined
    order went back when it was declined: nothing to give back here.
    """
    ids = list(
        order_qs_declined_before(cutoff).filter(pk__in=list(order_ids)).values_list("pk", flat=True)
    )
    lines, _by_model = OrderLine.objects.filter(order_id__in=ids).delete()
    orders, _by_model = Order.objects.filter(pk__in=ids).delete()
    return orders, lines
