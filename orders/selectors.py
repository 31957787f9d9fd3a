"""Reads of orders with their related rows fetched up front (fixed query counts)."""

import uuid

from orders.models import Order


def order_get_with_lines(*, token: uuid.UUID) -> Order | None:
    return Order.objects.prefetch_related("lines", "shipments").filter(token=token).first()
