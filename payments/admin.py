from django.contrib import admin
from django.utils.translation import gettext_lazy

from orders.admin import OrderAdmin as BaseOrderAdmin
from orders.admin import ReadOnlyInline
from orders.models import Order
from payments.models import CustomerEmail, Payment, PaymentLedgerEntry
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


admin.site.unregister(Order)


@admin.register(Order)
class OrderAdmin(BaseOrderAdmin):
    """The orders admin, with the payment and its ledger alongside."""

    inlines = [*BaseOrderAdmin.inlines, PaymentInline, LedgerInline]
    list_display = [*BaseOrderAdmin.list_display, "payment_status"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("payments")

    @admin.display(description=gettext_lazy("payment"))
    def payment_status(self, order: Order) -> str:
        payments = sorted(order.payments.all(), key=lambda p: (p.created_at, p.pk))
        return payments[-1].get_status_display() if payments else "–"


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["order", "status", "card_display", "authorized", "captured", "created_at"]
    list_filter = ["status", "provider"]
    search_fields = ["order__number", "provider_reference", "order__email"]
    list_select_related = ["order"]
    inlines = [LedgerInline]
    authorized = _money("authorized_amount", gettext_lazy("authorized"))
    captured = _money("captured_amount", gettext_lazy("captured"))

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Payment._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PaymentLedgerEntry)
class PaymentLedgerEntryAdmin(admin.ModelAdmin):
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

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in PaymentLedgerEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CustomerEmail)
class CustomerEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "order", "kind", "to", "sent_at"]
    list_filter = ["kind"]
    search_fields = ["order__number", "to"]
    list_select_related = ["order"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in CustomerEmail._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
