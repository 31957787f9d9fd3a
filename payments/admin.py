from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from orders.admin import OrderAdminExtension, ReadOnlyInline, register_order_admin_extension
from orders.models import Order, OrderStatus
from payments.exceptions import PaymentError
from payments.forms import RefundForm
from payments.models import (
    CAPTURABLE_STATUSES,
    REFUNDABLE_STATUSES,
    CustomerEmail,
    Payment,
    PaymentLedgerEntry,
    ProviderEvent,
)
from payments.selectors import order_balance
from payments.services import (
    payment_request_refund,
    payment_request_review_approval,
    payment_retry_failed_captures,
)
from shop.money import format_money


def _money(field: str, label: str):
    """A read-only admin column showing a minor-units field as money."""

    @admin.display(description=label)
    def show(model_admin, obj) -> str:
        return format_money(getattr(obj, field), obj.currency)

    return show


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
        "failure_message",
    ]
    readonly_fields = fields
    card = admin.display(description=gettext_lazy("card"))(lambda self, p: p.card_display)
    authorized = _money("authorized_amount", gettext_lazy("authorized"))
    captured = _money("captured_amount", gettext_lazy("captured"))
    refunded = _money("refunded_amount", gettext_lazy("refunded"))


class LedgerInline(ReadOnlyInline):
    model = PaymentLedgerEntry
    fields = [
        "created_at",
        "operation",
        "event",
        "amount_display",
        "idempotency_key",
        "provider_reference",
        "error_code",
        "message",
    ]
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("payment ledger")
    amount_display = _money("amount", gettext_lazy("amount"))


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = gettext_lazy("payment attention")
    parameter_name = "payment_attention"

    def lookups(self, request, model_admin):
        return [
            ("attention", gettext_lazy("Needs attention (failed or expired)")),
            ("expiring", gettext_lazy("Authorization lapses within 48 h")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "attention":
            return queryset.filter(payments__needs_attention=True).distinct()
        if self.value() == "expiring":
            horizon = timezone.now() + timedelta(hours=settings.PAYMENTS_EXPIRY_WARNING_HOURS)
            return queryset.filter(
                payments__status__in=CAPTURABLE_STATUSES,
                payments__authorization_expires_at__lte=horizon,
            ).distinct()
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


@admin.action(
    description=gettext_lazy("Approve the payment review (fraud check)"),
    permissions=["change"],
)
def approve_review(model_admin, request: HttpRequest, queryset: QuerySet[Order]) -> None:
    """Staff approve; to reject, they cancel the order (the hold is released, the customer told)."""
    for order in queryset:
        try:
            payment_request_review_approval(order_id=order.pk)
        except PaymentError as error:
            model_admin.message_user(
                request,
                _("Order %(number)s: %(reason)s.") % {"number": order.number, "reason": error},
                messages.ERROR,
            )
        else:
            model_admin.message_user(
                request,
                _(
                    "Order %(number)s: approval sent to the payment service; the order is "
                    "confirmed and the customer e-mailed once it answers."
                )
                % {"number": order.number},
                messages.SUCCESS,
            )


@admin.action(description=gettext_lazy("Retry failed captures"), permissions=["change"])
def retry_failed_captures(model_admin, request: HttpRequest, queryset: QuerySet[Order]) -> None:
    for order in queryset:
        count = payment_retry_failed_captures(order_id=order.pk)
        if count:
            model_admin.message_user(
                request,
                ngettext(
                    "Order %(number)s: %(count)d capture queued again.",
                    "Order %(number)s: %(count)d captures queued again.",
                    count,
                )
                % {"number": order.number, "count": count},
                messages.SUCCESS,
            )
        else:
            model_admin.message_user(
                request,
                _(
                    "Order %(number)s: no failed capture can be retried now (if the "
                    "authorization expired, the customer must authorize again first)."
                )
                % {"number": order.number},
                messages.WARNING,
            )


class PaymentsOrderAdmin(OrderAdminExtension):
    """What payments adds to the order admin: the payment, its ledger and the money actions."""

    inlines = [PaymentInline, LedgerInline]
    list_display = [payment_status]
    list_filter = [NeedsAttentionFilter]
    actions = [approve_review, retry_failed_captures]
    fieldsets = [(gettext_lazy("Payment"), {"fields": [paid, outstanding]})]
    change_form_template = "admin/payments/order_change_form.html"

    def get_queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        return queryset.prefetch_related("payments")

    def change_view_context(self, model_admin, request: HttpRequest, object_id: str) -> dict:
        try:
            order_id = Order._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            order_id = None  # not an id: the admin itself says no such order
        order = (
            Order.objects.filter(pk=order_id).only("status", "number").first()
            if order_id is not None
            else None
        )
        if request.method == "GET" and order and order.status == OrderStatus.IN_REVIEW:
            model_admin.message_user(
                request,
                _(
                    "Order %(number)s is being verified by the payment service's fraud check: "
                    "it cannot ship until you approve its payment (action “Approve the payment "
                    "review”) or reject it by cancelling the order."
                )
                % {"number": order.number},
                messages.WARNING,
            )
        return {
            "can_refund": order is not None
            and Payment.objects.filter(
                order_id=order.pk, status__in=REFUNDABLE_STATUSES, captured_amount__gt=0
            ).exists(),
        }

    def get_urls(self, model_admin) -> list:
        def view(request: HttpRequest, order_id: int) -> HttpResponse:
            return refund_view(model_admin, request, order_id)

        return [
            path(
                "<int:order_id>/refund/",
                model_admin.admin_site.admin_view(view),
                name="payments_order_refund",
            )
        ]


def refund_view(model_admin, request: HttpRequest, order_id: int) -> HttpResponse:
    """Ask for an amount, then queue the refund through the service."""
    if not model_admin.has_change_permission(request):
        raise PermissionDenied
    order = Order.objects.filter(pk=order_id).first()
    payment = (
        Payment.objects.filter(order_id=order_id, status__in=REFUNDABLE_STATUSES)
        .order_by("-created_at")
        .first()
    )
    if order is None or payment is None or payment.refundable_amount <= 0:
        model_admin.message_user(
            request, _("Nothing captured is left to refund."), messages.WARNING
        )
        return HttpResponseRedirect(reverse("admin:orders_order_changelist"))
    form = RefundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        amount = form.cleaned_data["amount"]
        try:
            payment_request_refund(
                payment_id=payment.pk,
                amount=amount,
                request_token=str(form.cleaned_data["request_token"]),
            )
        except PaymentError as error:
            form.add_error("amount", str(error))
        else:
            model_admin.message_user(
                request,
                _(
                    "Order %(number)s: the refund of %(amount)s is queued; the customer "
                    "will be e-mailed once it is done."
                )
                % {"number": order.number, "amount": format_money(amount, payment.currency)},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Refund order %(number)s") % {"number": order.number},
        "opts": model_admin.model._meta,
        "order": order,
        "payment": payment,
        "form": form,
    }
    return TemplateResponse(request, "admin/payments/refund.html", context)


register_order_admin_extension(PaymentsOrderAdmin())


class RecordAdmin(admin.ModelAdmin):
    """Rows only services write: every field read-only, none added or deleted here."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AppendOnlyAdmin(RecordAdmin):
    """Rows never changed once written (the ledger, provider events)."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(RecordAdmin):
    list_display = ["order", "status", "card_display", "authorized", "captured", "created_at"]
    list_filter = ["status", "provider"]
    search_fields = ["order__number", "provider_reference", "order__email"]
    list_select_related = ["order"]
    inlines = [LedgerInline]
    authorized = _money("authorized_amount", gettext_lazy("authorized"))
    captured = _money("captured_amount", gettext_lazy("captured"))


@admin.register(PaymentLedgerEntry)
class PaymentLedgerEntryAdmin(AppendOnlyAdmin):
    list_display = [
        "created_at",
        "order",
        "operation",
        "event",
        "amount_display",
        "idempotency_key",
        "error_code",
    ]
    list_filter = ["operation", "event"]
    search_fields = ["idempotency_key", "order__number", "provider_reference"]
    list_select_related = ["order"]
    amount_display = _money("amount", gettext_lazy("amount"))


@admin.register(CustomerEmail)
class CustomerEmailAdmin(RecordAdmin):
    list_display = ["created_at", "order", "kind", "to", "sent_at"]
    list_filter = ["kind"]
    search_fields = ["order__number", "to"]
    list_select_related = ["order"]


@admin.register(ProviderEvent)
class ProviderEventAdmin(AppendOnlyAdmin):
    """Webhook events as received, and what their handling did; read-only."""

    list_display = ["received_at", "provider", "type", "event_id", "processed_at", "outcome"]
    list_filter = ["provider", "type", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "type", "outcome"]
    date_hierarchy = "received_at"
