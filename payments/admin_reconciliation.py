"""The reconciliation in the admin: runs, their lines linked to orders, CSV export, and
a run on demand (queued for the worker). Only staff ``can_reconcile`` see any of it."""

import csv
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from payments.models import ReconciliationItem, ReconciliationRun
from payments.operations.reconciliation import reconciliation_run_task
from payments.permissions import can_reconcile
from shop.money import format_money


class ReconcileForm(forms.Form):
    since = forms.DateField(label=gettext_lazy("From (included)"), localize=True)
    until = forms.DateField(label=gettext_lazy("Until (included)"), localize=True)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("The first day must come before the last."))
        return data


class ReconciliationAccess(admin.ModelAdmin):
    """Read-only, and only for staff who may reconcile."""

    def has_module_permission(self, request) -> bool:
        return can_reconcile(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return can_reconcile(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.action(description=gettext_lazy("Export the lines as CSV"), permissions=["view"])
def export_csv(model_admin, request: HttpRequest, queryset: QuerySet[ReconciliationRun]):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="reconciliation.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            _("run"),
            _("outcome"),
            _("operation"),
            _("order"),
            _("idempotency key"),
            _("provider reference"),
            _("shop (cents)"),
            _("provider (cents)"),
            _("provider status"),
            _("currency"),
        ]
    )
    items = ReconciliationItem.objects.filter(run__in=queryset).select_related("order")
    for item in items.order_by("run", "pk"):
        writer.writerow(
            [
                item.run_id,
                item.get_outcome_display(),
                item.get_operation_display(),
                item.order.number if item.order else "",
                item.idempotency_key,
                item.provider_reference,
                "" if item.shop_amount is None else item.shop_amount,
                "" if item.provider_amount is None else item.provider_amount,
                item.provider_status,
                item.currency,
            ]
        )
    return response


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReconciliationAccess):
    list_display = [
        "started_at",
        "provider",
        "period_start",
        "period_end",
        "matched",
        "mismatched",
        "error",
    ]
    readonly_fields = list_display
    actions = [export_csv]
    change_list_template = "admin/payments/reconciliationrun/change_list.html"

    def get_urls(self):
        return [
            path(
                "run/",
                self.admin_site.admin_view(self.reconcile_view),
                name="payments_reconciliationrun_reconcile",
            ),
            *super().get_urls(),
        ]

    def reconcile_view(self, request: HttpRequest) -> HttpResponse:
        """Queue a reconciliation of the chosen days for the worker."""
        if not can_reconcile(request.user):
            raise PermissionDenied
        today = timezone.localdate()
        form = ReconcileForm(
            request.POST or None, initial={"since": today - timedelta(days=1), "until": today}
        )
        if request.method == "POST" and form.is_valid():
            zone = timezone.get_current_timezone()
            since = datetime.combine(form.cleaned_data["since"], time.min, zone)
            until = datetime.combine(form.cleaned_data["until"], time.min, zone) + timedelta(days=1)
            reconciliation_run_task.enqueue(since=since.isoformat(), until=until.isoformat())
            self.message_user(
                request,
                _("The reconciliation is queued; its results appear here once the worker ran it."),
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:payments_reconciliationrun_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reconcile with the payment service"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/payments/reconcile.html", context)


class MismatchFilter(admin.SimpleListFilter):
    title = gettext_lazy("mismatch")
    parameter_name = "mismatch"

    def lookups(self, request, model_admin):
        return [("yes", gettext_lazy("Mismatches only"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(outcome=ReconciliationItem.Outcome.MATCHED)
        return queryset


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(ReconciliationAccess):
    list_display = [
        "run",
        "outcome",
        "operation",
        "order_link",
        "idempotency_key",
        "provider_reference",
        "shop",
        "provider",
        "provider_status",
    ]
    list_filter = [MismatchFilter, "outcome", "operation", "run"]
    list_select_related = ["run", "order"]
    search_fields = ["idempotency_key", "provider_reference", "order__number"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    @admin.display(description=gettext_lazy("order"))
    def order_link(self, item: ReconciliationItem) -> str:
        if item.order is None:
            return "–"
        url = reverse("admin:orders_order_change", args=[item.order_id])
        return format_html('<a href="{}">{}</a>', url, item.order.number)

    @admin.display(description=gettext_lazy("shop"))
    def shop(self, item: ReconciliationItem) -> str:
        return "–" if item.shop_amount is None else format_money(item.shop_amount, item.currency)

    @admin.display(description=gettext_lazy("provider"))
    def provider(self, item: ReconciliationItem) -> str:
        if item.provider_amount is None:
            return "–"
        return format_money(item.provider_amount, item.currency)
