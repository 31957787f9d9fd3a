"""The shopper's order page: the order, how it is paid, and what happened to it since.

Read in a fixed number of queries (the order, its lines, its payments, their
ledger, and its parcels once it has shipped), whatever the number of parcels or money moves. The
timeline is made of what the shop recorded, never of what it intends.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, prefetch_related_objects
from django.utils.translation import gettext as _

from orders.models import WITH_PARCEL_STATUSES, Order
from orders.shipping import tracking_url
from payments.methods import METHODS, is_paid_at_order
from payments.models import (
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from shop.money import format_money


@dataclass(frozen=True)
class TimelineEvent:
    code: str
    at: datetime
    title: str
    detail: str = ""
    link: str = ""
    link_label: str = ""


def order_page_get(*, token: uuid.UUID) -> Order | None:
    """The order with its lines, payments and their ledger, and its parcels if it has any.

    Four queries; five for an order shipped in part or whole (only those can
    have parcels: ``WITH_PARCEL_STATUSES``).
    """
    order = Order.objects.filter(token=token).first()
    if order is None:
        return None
    ledger = PaymentLedgerEntry.objects.filter(event=LedgerEvent.SUCCEEDED).order_by(
        "created_at", "pk"
    )
    lookups = [
        "lines",
        Prefetch(
            "payments",
            queryset=Payment.objects.order_by("created_at", "pk").prefetch_related(
                Prefetch("ledger", queryset=ledger, to_attr="successes")
            ),
        ),
    ]
    if order.status in WITH_PARCEL_STATUSES:
        lookups.append("shipments")
    prefetch_related_objects([order], *lookups)
    return order


def order_payment(order: Order) -> Payment | None:
    """The payment that stands for the order: the latest one that went through."""
    payments = list(order.payments.all())
    through = [p for p in payments if p.status not in {PaymentStatus.PENDING, PaymentStatus.FAILED}]
    return (through or payments or [None])[-1]


def _held_title(payment: Payment, amount: str) -> str:
    if is_paid_at_order(payment.method):
        return _("%(amount)s paid with %(method)s") % {
            "amount": amount,
            "method": payment.get_method_display(),
        }
    if METHODS[payment.method].page == "approval":
        return _("%(amount)s authorized on your %(method)s account, not debited") % {
            "amount": amount,
            "method": payment.get_method_display(),
        }
    return _("%(amount)s held on your %(card)s, not debited") % {
        "amount": amount,
        "card": payment.card_display,
    }


def _payment_events(payment: Payment) -> list[TimelineEvent]:
    """What the ledger's successes say happened to this payment's money."""
    events = []
    for entry in payment.successes:
        amount = format_money(entry.amount, payment.currency)
        if entry.operation == LedgerOperation.AUTHORIZE:
            events.append(TimelineEvent("held", entry.created_at, _held_title(payment, amount)))
            reviewed = payment.status == PaymentStatus.IN_REVIEW or any(
                e.operation == LedgerOperation.APPROVE_REVIEW for e in payment.successes
            )
            if reviewed:
                events.append(
                    TimelineEvent(
                        "in_review",
                        entry.created_at,
                        _("Being verified by our payment partner"),
                        _(
                            "Some orders are checked before they are confirmed; they may contact you."
                        ),
                    )
                )
        elif entry.operation == LedgerOperation.APPROVE_REVIEW:
            events.append(TimelineEvent("verified", entry.created_at, _("Payment verified")))
        elif entry.operation == LedgerOperation.CAPTURE and not is_paid_at_order(payment.method):
            events.append(
                TimelineEvent(
                    "debited", entry.created_at, _("%(amount)s debited") % {"amount": amount}
                )
            )
        elif entry.operation == LedgerOperation.REFUND:
            events.append(
                TimelineEvent(
                    "refunded", entry.created_at, _("%(amount)s refunded") % {"amount": amount}
                )
            )
        elif entry.operation == LedgerOperation.VOID and payment.status != PaymentStatus.FAILED:
            events.append(
                TimelineEvent(
                    "released",
                    entry.created_at,
                    _("The hold of %(amount)s is released") % {"amount": amount},
                    _("Depending on your bank, it may take a few days to show."),
                )
            )
        elif entry.operation == LedgerOperation.EXPIRE:
            events.append(
                TimelineEvent(
                    "expired",
                    entry.created_at,
                    _("The authorization lapsed before everything shipped"),
                    _("We e-mailed you a link to authorize what is left."),
                )
            )
    return events


def order_timeline(order: Order) -> list[TimelineEvent]:
    """What happened to the order, oldest first, from what was prefetched (no query)."""
    events = [
        TimelineEvent(
            "placed",
            order.created_at,
            _("Order placed"),
            format_money(order.total_amount, order.currency),
        )
    ]
    for payment in order.payments.all():
        events += _payment_events(payment)
    if order.confirmed_at:
        events.append(
            TimelineEvent("confirmed", order.confirmed_at, _("Order confirmed, being prepared"))
        )
    for shipment in order.shipments.all() if order.status in WITH_PARCEL_STATUSES else ():
        link = tracking_url(shipment.carrier, shipment.tracking_number)
        detail = (
            _("Tracking number: %(number)s") % {"number": shipment.tracking_number}
            if shipment.tracking_number
            else ""
        )
        events.append(
            TimelineEvent(
                "shipped",
                shipment.created_at,
                _("Parcel handed to %(carrier)s") % {"carrier": shipment.get_carrier_display()},
                detail,
                link,
                _("Follow the parcel on %(carrier)s's site")
                % {"carrier": shipment.get_carrier_display()}
                if link
                else "",
            )
        )
    if order.cancelled_at:
        events.append(TimelineEvent("cancelled", order.cancelled_at, _("Order cancelled")))
    order_of_codes = ["placed", "held", "in_review", "verified", "confirmed"]
    return sorted(
        events,
        key=lambda event: (
            event.at,
            order_of_codes.index(event.code) if event.code in order_of_codes else 99,
        ),
    )
