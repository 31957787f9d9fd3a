"""The payments admin: the records only services write (read-only), and, through the
modules it loads, the order admin's payment part (``admin_order``) and the
reconciliation with the provider (``admin_reconciliation``)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy

from payments import (
    admin_order,  # noqa: F401  (registers the order admin extension)
    admin_reconciliation,  # noqa: F401  (registers the reconciliation admin)
)
from payments.admin_order import LedgerInline, card_column, money_column
from payments.dashboard import failed_emails
from payments.ledger_texts import ledger_entry_text
from payments.models import CustomerEmail, Payment, PaymentLedgerEntry, ProviderEvent


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
    list_display = ["order", "status", "card", "authorized", "captured", "created_at"]
    list_filter = ["status", "provider"]
    search_fields = ["order__number", "provider_reference", "order__email"]
    list_select_related = ["order"]
    inlines = [LedgerInline]
    card = card_column
    authorized = money_column("authorized_amount", gettext_lazy("authorized"))
    captured = money_column("captured_amount", gettext_lazy("captured"))


@admin.register(PaymentLedgerEntry)
class PaymentLedgerEntryAdmin(AppendOnlyAdmin):
    list_display = [
        "created_at",
        "order",
        "operation",
        "event",
        "amount_display",
        "idempotency_key",
        "explanation",
    ]
    list_filter = ["operation", "event"]
    search_fields = ["idempotency_key", "order__number", "provider_reference"]
    list_select_related = ["order"]
    amount_display = money_column("amount", gettext_lazy("amount"))

    @admin.display(description=gettext_lazy("details"))
    def explanation(self, entry: PaymentLedgerEntry) -> str:
        return ledger_entry_text(error_code=entry.error_code, message=entry.message)

    def get_fields(self, request, obj=None) -> list[str]:
        """Every field, read-only; the provider's raw message (often English) in staff's words."""
        names = [field.name for field in self.model._meta.fields if field.name != "message"]
        return [*names, "explanation"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return self.get_fields(request, obj)


class UnsentFilter(admin.SimpleListFilter):
    title = gettext_lazy("not sent")
    parameter_name = "unsent"

    def lookups(self, request, model_admin):
        return [("yes", gettext_lazy("Not sent after the retry delay"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(pk__in=failed_emails().values("pk"))
        return queryset


@admin.register(CustomerEmail)
class CustomerEmailAdmin(RecordAdmin):
    list_display = ["created_at", "order", "kind", "to", "sent_at"]
    list_filter = [UnsentFilter, "kind"]
    search_fields = ["order__number", "to"]
    list_select_related = ["order"]


@admin.register(ProviderEvent)
class ProviderEventAdmin(AppendOnlyAdmin):
    """Webhook events as received, and what their handling did; read-only."""

    list_display = ["received_at", "provider", "type", "event_id", "processed_at", "outcome"]
    list_filter = ["provider", "type", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "type", "outcome"]
    date_hierarchy = "received_at"
