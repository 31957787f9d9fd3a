"""What needs attention, counted for the admin home: one query per count, however many
orders there are, each count with the address of its filtered list."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from orders.models import OPEN_STATUSES, SHIPPABLE_STATUSES, Order, OrderStatus
from orders.permissions import can_ship
from payments.models import (
    CAPTURABLE_STATUSES,
    CustomerEmail,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentStatus,
    ReconciliationRun,
)
from payments.permissions import can_reconcile, can_retry_capture


@dataclass(frozen=True)
class Count:
    label: str
    count: int
    url: str


def _orders_url(**params: str) -> str:
    return reverse("admin:orders_order_changelist") + "?" + urlencode(params)


def uncharged_orders():
    """Shipped, and not charged: a capture failed, or it has waited too long."""
    stale = timezone.now() - timedelta(minutes=settings.PAYMENTS_STALE_OPERATION_MINUTES)
    failed = Payment.objects.filter(order=OuterRef("pk"), needs_attention=True)
    # Everything shipped, yet part of the hold is still uncaptured long after it was asked.
    waiting = Payment.objects.filter(
        order=OuterRef("pk"),
        status__in=CAPTURABLE_STATUSES,
        ledger__operation=LedgerOperation.CAPTURE,
        ledger__event=LedgerEvent.REQUESTED,
        ledger__created_at__lte=stale,
    )
    shipped = [OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED]
    return Order.objects.filter(
        Q(status__in=shipped, pk__in=Order.objects.filter(Exists(failed)).values("pk"))
        | Q(status=OrderStatus.SHIPPED, pk__in=Order.objects.filter(Exists(waiting)).values("pk"))
    )


def expiring_orders():
    horizon = timezone.now() + timedelta(hours=settings.PAYMENTS_EXPIRY_WARNING_HOURS)
    return Order.objects.filter(
        Exists(
            Payment.objects.filter(
                order=OuterRef("pk"),
                status__in=CAPTURABLE_STATUSES,
                authorization_expires_at__lte=horizon,
            )
        )
    )


def lapsed_orders():
    """Open orders whose hold lapsed: the customer was asked to authorize again."""
    return Order.objects.filter(status__in=OPEN_STATUSES).filter(
        Exists(Payment.objects.filter(order=OuterRef("pk"), status=PaymentStatus.EXPIRED))
    )


def disputed_orders():
    return Order.objects.filter(
        Exists(Payment.objects.filter(order=OuterRef("pk"), failure_code="disputed"))
    )


def failed_emails():
    stale = timezone.now() - timedelta(minutes=settings.PAYMENTS_STALE_OPERATION_MINUTES)
    return CustomerEmail.objects.filter(sent_at__isnull=True, created_at__lte=stale)


def dashboard_counts(user) -> list[Count]:
    """The counts this user works on (Warehouse: shipping; Finance: the money)."""
    counts = []
    if can_ship(user):
        shippable = ",".join(sorted(SHIPPABLE_STATUSES))
        counts.append(
            Count(
                _("Orders to ship"),
                Order.objects.filter(status__in=SHIPPABLE_STATUSES).count(),
                _orders_url(status__in=shippable),
            )
        )
    if not (can_retry_capture(user) or can_reconcile(user)):
        return counts
    counts += [
        Count(
            _("Orders being verified"),
            Order.objects.filter(status=OrderStatus.IN_REVIEW).count(),
            _orders_url(status__exact=OrderStatus.IN_REVIEW),
        ),
        Count(
            _("Shipped but not charged"),
            uncharged_orders().count(),
            _orders_url(payment_attention="uncharged"),
        ),
        Count(
            _("Holds lapsing within 48 h"),
            expiring_orders().count(),
            _orders_url(payment_attention="expiring"),
        ),
        Count(
            _("Lapsed holds awaiting the customer"),
            lapsed_orders().count(),
            _orders_url(payment_attention="lapsed"),
        ),
        Count(
            _("Disputes"),
            disputed_orders().count(),
            _orders_url(payment_attention="disputed"),
        ),
        Count(
            _("E-mails not sent"),
            failed_emails().count(),
            reverse("admin:payments_customeremail_changelist") + "?unsent=yes",
        ),
    ]
    latest = ReconciliationRun.objects.filter(error="").order_by("-started_at", "-pk").first()
    counts.append(
        Count(
            _("Reconciliation mismatches"),
            latest.mismatched if latest else 0,
            reverse("admin:payments_reconciliationitem_changelist")
            + "?"
            + urlencode({"mismatch": "yes", **({"run__id__exact": latest.pk} if latest else {})}),
        )
    )
    return counts
