"""Reads of orders with their related rows fetched up front (fixed query counts)."""

import uuid

from django.db.models import Sum
from django.db.models.functions import Coalesce

from orders.models import Order, OrderLine


def order_get_with_lines(*, token: uuid.UUID) -> Order | None:
    return Order.objects.prefetch_related("lines", "shipments").filter(token=token).first()


def order_lines_left_to_ship(*, order: Order) -> dict[int, tuple[OrderLine, int]]:
    """Each line (by id) with what is left to ship: ordered less shipped less cancelled."""
    lines = order.lines.annotate(shipped=Coalesce(Sum("shipment_lines__quantity"), 0))
    return {
        line.pk: (line, line.quantity - line.shipped - line.cancelled_quantity) for line in lines
    }
