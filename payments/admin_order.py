"""What payments adds to the order admin: the payment, its ledger, the money actions
(list actions and buttons on the order page), and the payment side of the timeline and
of each parcel shipped (what its capture request says)."""

from collections.abc import Sequence
from typing import assert_never

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.admin import ReadOnlyInline
from orders.admin_audit import TimelineEvent
from orders.admin_extensions import (
    OrderAdminExtension,
    allowed_if,
    register_order_admin_extension,
)
from orders.models import Order, OrderStatus, Shipment
from payments import admin_views, dashboard
from payments.admin_actions import approve_review_of, retry_captures_of
from payments.ledger_texts import ledger_entry_text
from payments.models import (
    REFUNDABLE_STATUSES,
    CustomerEmail,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentMethod,
)
from payments.operations import ledger
from payments.permissions import can_refund, can_resend_email, can_retry_capture, can_review
from payments.selectors import (
    ShipmentPayment,
    ShipmentPaymentOutcome,
    order_balance,
    shipment_payments,
)
from shop.money import format_money


def money_column(field: str, label: str):
    """A read-only admin column showing a minor-units field as money."""

    @admin.display(description=label)
    def show(model_admin, obj) -> str:
        return format_money(getattr(obj, field), obj.currency)

    return show


@admin.display(description=gettext_lazy("card"))
def card_column(model_admin, payment: Payment) -> str:
    return payment.card_display


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = [
        "status",
        "needs_attention",
        "provider",
        "card",
        "authorized",
        "captured",
        "refunded",
        "authorization_expires_at",
        "failure",
    ]
    readonly_fields = fields
    card = card_column
    authorized = money_column("authorized_amount", gettext_lazy("authorized"))
    captured = money_column("captured_amount", gettext_lazy("captured"))
    refunded = money_column("refunded_amount", gettext_lazy("refunded"))

    @admin.display(description=gettext_lazy("failure"))
    def failure(self, payment: Payment) -> str:
        return ledger_entry_text(error_code=payment.failure_code, message=payment.failure_message)


class LedgerInline(ReadOnlyInline):
    model = PaymentLedgerEntry
    fields = [
        "created_at",
        "operation",
        "event",
        "amount_display",
        "idempotency_key",
        "provider_reference",
        "explanation",
    ]
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("payment ledger")
    amount_display = money_column("amount", gettext_lazy("amount"))

    @admin.display(description=gettext_lazy("details"))
    def explanation(self, entry: PaymentLedgerEntry) -> str:
        return ledger_entry_text(error_code=entry.error_code, message=entry.message)


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = gettext_lazy("payment attention")
    parameter_name = "payment_attention"

    def lookups(self, request, model_admin):
        return [
            ("attention", gettext_lazy("Needs attention (failed or expired)")),
            ("expiring", gettext_lazy("Authorization lapses within 48 h")),
            ("uncharged", gettext_lazy("Shipped but not charged")),
            ("lapsed", gettext_lazy("Lapsed hold, awaiting the customer")),
            ("disputed", gettext_lazy("Disputed")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "attention":
            return queryset.filter(payments__needs_attention=True).distinct()
        selectors = {
            "expiring": dashboard.expiring_orders,
            "uncharged": dashboard.uncharged_orders,
            "lapsed": dashboard.lapsed_orders,
            "disputed": dashboard.disputed_orders,
        }
        if self.value() in selectors:
            return queryset.filter(pk__in=selectors[self.value()]().values("pk"))
        return queryset


@admin.display(description=gettext_lazy("paid (captured less refunded)"))
def paid(order: Order) -> str:
    balance = order_balance(order=order)
    return format_money(balance.paid, balance.currency)


@admin.display(description=gettext_lazy("still to capture"))
def outstanding(order: Order) -> str:
    balance = order_balance(order=order)
    return format_money(balance.outstanding, balance.currency)


@admin.display(description=gettext_lazy("payment"))
def payment_status(order: Order) -> str:
    payments = list(order.payments.all())  # newest first
    if not payments:
        return "–"
    label = payments[0].get_status_display()
    if any(p.needs_attention for p in payments):
        return format_html("⚠ {} ({})", label, _("needs attention"))
    return label


@allowed_if(can_review)
@admin.action(
    description=gettext_lazy("Approve the payment review (fraud check)"), permissions=["view"]
)
def approve_review(model_admin, request: HttpRequest, queryset: QuerySet[Order]) -> None:
    """Staff approve; to reject, they cancel the order (the hold is released, the customer told)."""
    for order in queryset:
        approve_review_of(model_admin, request, order)


@allowed_if(can_retry_capture)
@admin.action(description=gettext_lazy("Retry failed captures"), permissions=["view"])
def retry_failed_captures(model_admin, request: HttpRequest, queryset: QuerySet[Order]) -> None:
    for order in queryset:
        retry_captures_of(model_admin, request, order)


@allowed_if(can_refund)
@admin.action(description=gettext_lazy("Refund (one order)"), permissions=["view"])
def refund(model_admin, request: HttpRequest, queryset: QuerySet[Order]):
    return admin_views.redirect_to_one(
        model_admin, request, queryset, "admin:payments_order_refund"
    )


@allowed_if(can_resend_email)
@admin.action(description=gettext_lazy("Resend an e-mail (one order)"), permissions=["view"])
def resend_email(model_admin, request: HttpRequest, queryset: QuerySet[Order]):
    return admin_views.redirect_to_one(
        model_admin, request, queryset, "admin:payments_order_emails"
    )


def shipment_payment_text(said: ShipmentPayment) -> str:
    """What payments did for a parcel, in a sentence for staff."""
    match said.outcome:
        case ShipmentPaymentOutcome.CAPTURE_QUEUED:
            return _(
                "The capture of %(amount)s is queued; the customer is e-mailed once it is debited."
            ) % {"amount": format_money(said.amount, said.currency)}
        case ShipmentPaymentOutcome.CAPTURED:
            return _("%(amount)s captured; the customer is e-mailed that it is debited.") % {
                "amount": format_money(said.amount, said.currency)
            }
        case ShipmentPaymentOutcome.CAPTURE_FAILED:
            return _("The capture of %(amount)s failed: %(reason)s") % {
                "amount": format_money(said.amount, said.currency),
                "reason": ledger_entry_text(error_code=said.error_code, message=said.message),
            }
        case ShipmentPaymentOutcome.PAID_AT_ORDER:
            return _(
                "It was already paid with %(method)s at the order: nothing to capture; "
                "the customer is told the parcel left."
            ) % {"method": PaymentMethod(said.method).label}
        case _:
            assert_never(said.outcome)


class PaymentsOrderAdmin(OrderAdminExtension):
    """What payments adds to the order admin: the payment, its ledger and the money actions."""

    inlines = [PaymentInline, LedgerInline]
    list_display = [payment_status]
    list_filter = [NeedsAttentionFilter]
    actions = [approve_review, retry_failed_captures, refund, resend_email]
    fieldsets = [(gettext_lazy("Payment"), {"fields": [paid, outstanding]})]
    change_form_template = "admin/payments/order_change_form.html"

    def get_queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        return queryset.prefetch_related("payments")

    def shipment_messages(self, shipments: Sequence[Shipment]) -> dict[int, str]:
        """The payments side of each parcel, from the records, in the reader's words."""
        return {
            shipment_id: shipment_payment_text(said)
            for shipment_id, said in shipment_payments(shipments=shipments).items()
        }

    def change_view_context(self, model_admin, request: HttpRequest, object_id: str) -> dict:
        try:
            order_id = Order._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            return {}  # not an id: the admin itself says there is no such order
        order = Order.objects.filter(pk=order_id).only("status", "number").first()
        if order is None:
            return {}
        payments = list(Payment.objects.filter(order_id=order.pk))
        user = request.user
        return {
            "in_review": order.status == OrderStatus.IN_REVIEW,
            "can_review": can_review(user) and order.status == OrderStatus.IN_REVIEW,
            "can_refund": can_refund(user)
            and any(p.status in REFUNDABLE_STATUSES and p.captured_amount > 0 for p in payments),
            "can_retry": can_retry_capture(user)
            and any(ledger.failed_requests(p, LedgerOperation.CAPTURE) for p in payments),
            "can_resend": can_resend_email(user)
            and CustomerEmail.objects.filter(order_id=order.pk).exists(),
        }

    def timeline(self, order: Order) -> list[TimelineEvent]:
        events = [
            TimelineEvent(
                at=entry.created_at,
                what=f"{entry.get_operation_display()} : {entry.get_event_display()}",
                detail=" ".join(
                    part
                    for part in (
                        format_money(entry.amount, entry.currency) if entry.amount else "",
                        ledger_entry_text(error_code=entry.error_code, message=entry.message),
                    )
                    if part
                ),
            )
            for entry in PaymentLedgerEntry.objects.filter(order_id=order.pk)
        ]
        for email in CustomerEmail.objects.filter(order_id=order.pk):
            events.append(
                TimelineEvent(
                    at=email.created_at,
                    what=_("E-mail queued: %(kind)s") % {"kind": email.get_kind_display()},
                    detail=email.to,
                )
            )
            if email.sent_at:
                events.append(
                    TimelineEvent(
                        at=email.sent_at,
                        what=_("E-mail sent: %(kind)s") % {"kind": email.get_kind_display()},
                        detail=email.to,
                    )
                )
        return events

    def get_urls(self, model_admin) -> list:
        def bind(view):
            def bound(request: HttpRequest, order_id: int):
                return view(model_admin, request, order_id)

            return model_admin.admin_site.admin_view(bound)

        return [
            path(
                "<int:order_id>/refund/",
                bind(admin_views.refund_view),
                name="payments_order_refund",
            ),
            path(
                "<int:order_id>/approve-review/",
                bind(admin_views.approve_review_view),
                name="payments_order_approve_review",
            ),
            path(
                "<int:order_id>/retry-captures/",
                bind(admin_views.retry_captures_view),
                name="payments_order_retry_captures",
            ),
            path(
                "<int:order_id>/emails/",
                bind(admin_views.emails_view),
                name="payments_order_emails",
            ),
        ]


register_order_admin_extension(PaymentsOrderAdmin())
