"""Reads of payments with what their pages need, in a fixed number of queries."""

from payments.models import Payment


def payment_latest_for_order(*, order_id: int) -> Payment | None:
    return Payment.objects.filter(order_id=order_id).order_by("-created_at", "-pk").first()
