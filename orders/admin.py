import re

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.exceptions import OrderError
from orders.forms import ShipmentForm
from orders.models import Order, OrderLine, OrderStatus, Shipment
from orders.selectors import order_lines_left_to_ship
from orders.services import order_cancel, order_ship
from shop.money import format_money


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_formset(self, request, obj=None, **kwargs):
        return _stored_rows_only(super().get_formset(request, obj, **kwargs))


def _stored_rows_only(formset):
    """A read-only inline's rows come from the database, whatever a POST says.

    Otherwise a forged management form (``TOTAL_FORMS=10**20``, unknown ids)
    makes the admin build and display blank rows that have no amount or parent.
    """

    class StoredRowsOnly(formset):
        def __init__(self, data=None, *args, **kwargs):
            super().__init__(data, *args, **kwargs)
            if not self.is_bound:
                return
            rows = list(self.get_queryset())
            stored = self.data.copy()
            prefix, pk_name = self.prefix, self.model._meta.pk.name
            stored[f"{prefix}-TOTAL_FORMS"] = stored[f"{prefix}-INITIAL_FORMS"] = str(len(rows))
            stored[f"{prefix}-MIN_NUM_FORMS"] = stored[f"{prefix}-MAX_NUM_FORMS"] = "0"
            for index, row in enumerate(rows):
                stored[f"{prefix}-{index}-{pk_name}"] = str(row.pk)
                stored[f"{prefix}-{index}-{self.fk.name}"] = str(self.instance.pk)
            self.data = stored

    return StoredRowsOnly


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = [
        "product_name",
        "size",
        "sku",
        "quantity",
        "shipped",
        "cancelled_quantity",
        "unit_price",
        "line_total",
    ]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("quantity shipped"))
    def shipped(self, line: OrderLine) -> int:
        return line.shipped

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("order")
            .annotate(shipped=Coalesce(Sum("shipment_lines__quantity"), 0))
        )

    @admin.display(description=gettext_lazy("unit price"))
    def unit_price(self, line: OrderLine) -> str:
        return format_money(line.unit_price_amount, line.order.currency)

    @admin.display(description=gettext_lazy("total"))
    def line_total(self, line: OrderLine) -> str:
        return format_money(line.total_amount, line.order.currency)


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = [
        "created_at",
        "carrier",
        "tracking_number",
        "contents",
        "value",
        "is_final",
        "created_by",
    ]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("contents"))
    def contents(self, shipment: Shipment) -> str:
        return ", ".join(str(line) for line in shipment.lines.all())

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("created_by")
            .prefetch_related("lines__order_line")
        )

    @admin.display(description=gettext_lazy("value"))
    def value(self, shipment: Shipment) -> str:
        return format_money(shipment.amount, shipment.currency)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "created_at", "full_name", "email", "total", "status"]
    list_per_page = 50
    list_filter = ["status", "shipping_method", "created_at"]
    search_fields = ["number", "email", "full_name"]
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, ShipmentInline]
    actions = ["mark_shipped", "cancel"]
    change_form_template = "admin/orders/order/change_form.html"
    readonly_fields = [
        "number",
        "status",
        "created_at",
        "confirmed_at",
        "shipped_at",
        "language",
        "subtotal",
        "shipping",
        "total",
        "cancelled",
        "shipping_method_name",
    ]
    fieldsets = [
        (None, {"fields": ["number", "status", "created_at", "confirmed_at", "shipped_at"]}),
        (
            gettext_lazy("Customer"),
            {
                "fields": [
                    "email",
                    "full_name",
                    "phone",
                    "address_line1",
                    "address_line2",
                    "postal_code",
                    "city",
                    "country",
                    "language",
                ]
            },
        ),
        (
            gettext_lazy("Amounts"),
            {"fields": ["subtotal", "shipping_method_name", "shipping", "total", "cancelled"]},
        ),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("subtotal"))
    def subtotal(self, order: Order) -> str:
        return format_money(order.subtotal_amount, order.currency)

    @admin.display(description=gettext_lazy("shipping"))
    def shipping(self, order: Order) -> str:
        return format_money(order.shipping_amount, order.currency)

    @admin.display(description=gettext_lazy("cancelled"))
    def cancelled(self, order: Order) -> str:
        return format_money(order.cancelled_amount, order.currency)

    @admin.display(description=gettext_lazy("total"), ordering="total_amount")
    def total(self, order: Order) -> str:
        return format_money(order.total_amount, order.currency)

    def get_urls(self):
        return [
            path("ship/", self.admin_site.admin_view(self.ship_view), name="orders_order_ship"),
            path(
                "cancel/", self.admin_site.admin_view(self.cancel_view), name="orders_order_cancel"
            ),
            *super().get_urls(),
        ]

    def _selected_orders(self, request: HttpRequest) -> list[Order]:
        """The orders named by ``?ids=``, for staff who may change orders."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        ids = [
            int(pk)
            for pk in request.GET.get("ids", "").split(",")
            if re.fullmatch(r"[0-9]{1,18}", pk.strip())
        ]
        return list(Order.objects.filter(pk__in=ids).order_by("pk"))

    def _back(self, orders: list[Order]) -> HttpResponse:
        if len(orders) == 1:
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[orders[0].pk]))
        return HttpResponseRedirect(reverse("admin:orders_order_changelist"))

    @admin.action(description=gettext_lazy("Mark selected orders shipped"), permissions=["change"])
    def mark_shipped(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return self._redirect_with_ids("admin:orders_order_ship", queryset)

    @admin.action(description=gettext_lazy("Cancel what has not shipped"), permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return self._redirect_with_ids("admin:orders_order_cancel", queryset)

    def _redirect_with_ids(self, name: str, queryset: QuerySet[Order]) -> HttpResponse:
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(reverse(name) + "?" + urlencode({"ids": ids}))

    def ship_view(self, request: HttpRequest) -> HttpResponse:
        """Ask for the carrier, tracking numbers and (for one order) quantities, then ship."""
        orders = self._selected_orders(request)
        if not orders:
            self.message_user(request, _("No orders were selected."), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:orders_order_changelist"))
        remaining = {
            order.pk: list(order_lines_left_to_ship(order=order).values()) for order in orders
        }
        form = ShipmentForm(request.POST or None, orders=orders, remaining=remaining)
        if request.method == "POST" and form.is_valid():
            for order in form.orders:
                try:
                    shipment = order_ship(
                        order_id=order.pk,
                        carrier=form.cleaned_data["carrier"],
                        tracking_number=form.tracking_number(order),
                        lines=form.lines(),
                        shipped_by=request.user,
                    )
                except OrderError as error:
                    self.message_user(request, str(error), messages.ERROR)
                else:
                    self.message_user(
                        request,
                        _("Order %(number)s: parcel worth %(amount)s recorded. %(notes)s")
                        % {
                            "number": order.number,
                            "amount": format_money(shipment.amount, shipment.currency),
                            "notes": " ".join(shipment.notes),
                        },
                        messages.SUCCESS,
                    )
            return self._back(form.orders)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Mark shipped"),
            "opts": self.model._meta,
            "form": form,
            "shippable_statuses": [OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED],
        }
        return TemplateResponse(request, "admin/orders/order/ship.html", context)

    def cancel_view(self, request: HttpRequest) -> HttpResponse:
        """Confirm, then cancel what has not shipped of each order through the service."""
        orders = self._selected_orders(request)
        if not orders:
            self.message_user(request, _("No orders were selected."), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:orders_order_changelist"))
        if request.method == "POST":
            for order in orders:
                try:
                    order_cancel(order_id=order.pk)
                except OrderError as error:
                    self.message_user(request, str(error), messages.ERROR)
                else:
                    self.message_user(
                        request,
                        _(
                            "Order %(number)s: what had not shipped is cancelled and its stock "
                            "released. Releasing the card hold is queued; the customer will "
                            "be e-mailed."
                        )
                        % {"number": order.number},
                        messages.SUCCESS,
                    )
            return self._back(orders)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Cancel what has not shipped"),
            "opts": self.model._meta,
            "orders": orders,
        }
        return TemplateResponse(request, "admin/orders/order/cancel.html", context)
