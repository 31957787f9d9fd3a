import re
from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.admin_audit import (
    CUSTOMER_FIELDS,
    correct_address_view,
    order_timeline,
)
from orders.admin_extensions import EXTENSIONS, allowed_if, shipment_messages
from orders.bulk_shipping_admin import shipping_run_urls, start_shipping_run
from orders.exceptions import OrderError
from orders.forms import ShipmentForm
from orders.models import SHIPPABLE_STATUSES, Order, OrderLine, Shipment
from orders.permissions import can_cancel, can_correct_address, can_ship
from orders.selectors import order_lines_left_to_ship
from orders.services import order_cancel, order_ship
from shop.money import format_money


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    # No empty "original"/"delete" headers; a keyboard-reachable scrolling table.
    template = "admin/edit_inline/tabular_readonly.html"

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
    """The order admin; other apps add to it through ``OrderAdminExtension``."""

    list_per_page = 50
    search_fields = ["number", "email", "full_name"]
    date_hierarchy = "created_at"
    own_list_display = ["number", "created_at", "full_name", "email", "total", "status"]
    own_list_filter = ["status", "shipping_method", "created_at"]
    own_inlines = [OrderLineInline, ShipmentInline]
    own_actions = ["mark_shipped", "cancel"]

    @property
    def list_display(self) -> list:
        return [*self.own_list_display, *(c for e in EXTENSIONS for c in e.list_display)]

    @property
    def list_filter(self) -> list:
        return [*(f for e in EXTENSIONS for f in e.list_filter), *self.own_list_filter]

    @property
    def inlines(self) -> list:
        return [*self.own_inlines, *(i for e in EXTENSIONS for i in e.inlines)]

    @property
    def actions(self) -> list:
        return [*self.own_actions, *(a for e in EXTENSIONS for a in e.actions)]

    @property
    def change_form_template(self) -> str:
        templates = [e.change_form_template for e in EXTENSIONS if e.change_form_template]
        return templates[-1] if templates else "admin/orders/order/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        queryset = super().get_queryset(request)
        for extension in EXTENSIONS:
            queryset = extension.get_queryset(request, queryset)
        return queryset

    def get_actions(self, request: HttpRequest, action_location=ActionLocation.CHANGE_LIST):
        """Only the actions this user may use: the others are neither shown nor accepted."""
        return {
            name: action
            for name, action in super().get_actions(request, action_location).items()
            if getattr(action.func, "allowed_if", lambda user: True)(request.user)
        }

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = [(name, dict(options)) for name, options in super().get_fieldsets(request, obj)]
        return [*fieldsets, *(f for e in EXTENSIONS for f in e.fieldsets)]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        added = [
            field
            for e in EXTENSIONS
            for _title, options in e.fieldsets
            for field in options["fields"]
        ]
        return [*super().get_readonly_fields(request, obj), *CUSTOMER_FIELDS, *added]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        try:  # an id that is no number (NUL, "²") finds nothing, as in the admin's own lookup
            order_id = Order._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            order_id = None
        order = Order.objects.filter(pk=order_id).first() if order_id is not None else None
        if order is not None:
            events = order_timeline(order)
            for extension in EXTENSIONS:
                events.extend(extension.timeline(order))
            extra_context["timeline"] = sorted(events, key=lambda event: event.at)
        extra_context.update(
            can_ship=can_ship(request.user),
            can_cancel=can_cancel(request.user),
            can_correct_address=can_correct_address(request.user),
        )
        for extension in EXTENSIONS:
            extra_context.update(extension.change_view_context(self, request, object_id))
        return super().change_view(request, object_id, form_url, extra_context)

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
            path(
                "<int:order_id>/correct-address/",
                self.admin_site.admin_view(self.correct_address_view),
                name="orders_order_correct_address",
            ),
            *shipping_run_urls(self),
            *(url for extension in EXTENSIONS for url in extension.get_urls(self)),
            *super().get_urls(),
        ]

    def correct_address_view(self, request: HttpRequest, order_id: int) -> HttpResponse:
        return correct_address_view(self, request, order_id)

    def _selected_orders(self, request: HttpRequest, check: Callable[..., bool]) -> list[Order]:
        """The orders named by ``?ids=``, for staff ``check`` allows (else 403)."""
        if not check(request.user):
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

    @allowed_if(can_ship)
    @admin.action(description=gettext_lazy("Mark selected orders shipped"), permissions=["view"])
    def mark_shipped(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        """One order: the parcel form; several (any number): a shipping run in the background."""
        if queryset[:2].count() > 1:
            return start_shipping_run(request, queryset)
        return self._redirect_with_ids("admin:orders_order_ship", queryset)

    @allowed_if(can_cancel)
    @admin.action(description=gettext_lazy("Cancel what has not shipped"), permissions=["view"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return self._redirect_with_ids("admin:orders_order_cancel", queryset)

    def _redirect_with_ids(self, name: str, queryset: QuerySet[Order]) -> HttpResponse:
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(reverse(name) + "?" + urlencode({"ids": ids}))

    def ship_view(self, request: HttpRequest) -> HttpResponse:
        """Ask for the carrier, tracking numbers and (for one order) quantities, then ship."""
        orders = self._selected_orders(request, can_ship)
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
                    self.log_change(request, order, f"Shipped: {shipment}")
                    # What the other apps did about the parcel, from their records
                    # (payments: the capture queued, or already paid at the order).
                    follow_up = shipment_messages([shipment]).get(shipment.pk, "")
                    self.message_user(
                        request,
                        _("Order %(number)s: parcel worth %(amount)s recorded. %(follow_up)s")
                        % {
                            "number": order.number,
                            "amount": format_money(shipment.amount, shipment.currency),
                            "follow_up": follow_up,
                        },
                        messages.SUCCESS,
                    )
            return self._back(form.orders)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Mark shipped"),
            "opts": self.model._meta,
            "form": form,
            "shippable_statuses": SHIPPABLE_STATUSES,
        }
        return TemplateResponse(request, "admin/orders/order/ship.html", context)

    def cancel_view(self, request: HttpRequest) -> HttpResponse:
        """Confirm, then cancel what has not shipped of each order through the service."""
        orders = self._selected_orders(request, can_cancel)
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
                    self.log_change(request, order, "Cancelled what had not shipped")
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
