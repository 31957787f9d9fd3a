from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.exceptions import OrderError
from orders.forms import ShipmentForm
from orders.models import Order, OrderLine, OrderStatus, Shipment
from orders.services import order_ship
from shop.money import format_money


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["product_name", "size", "sku", "quantity", "unit_price", "line_total"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("unit price"))
    def unit_price(self, line: OrderLine) -> str:
        return format_money(line.unit_price_amount, line.order.currency)

    @admin.display(description=gettext_lazy("total"))
    def line_total(self, line: OrderLine) -> str:
        return format_money(line.total_amount, line.order.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = ["created_at", "carrier", "tracking_number", "value", "created_by"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("value"))
    def value(self, shipment: Shipment) -> str:
        return format_money(shipment.amount, shipment.currency)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "created_at", "full_name", "email", "total", "status"]
    list_filter = ["status", "shipping_method", "created_at"]
    search_fields = ["number", "email", "full_name"]
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, ShipmentInline]
    actions = ["mark_shipped"]
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
            {"fields": ["subtotal", "shipping_method_name", "shipping", "total"]},
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

    @admin.display(description=gettext_lazy("total"), ordering="total_amount")
    def total(self, order: Order) -> str:
        return format_money(order.total_amount, order.currency)

    def get_urls(self):
        return [
            path(
                "ship/",
                self.admin_site.admin_view(self.ship_view),
                name="orders_order_ship",
            ),
            *super().get_urls(),
        ]

    @admin.action(description=gettext_lazy("Mark selected orders shipped"))
    def mark_shipped(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(
            reverse("admin:orders_order_ship") + "?" + urlencode({"ids": ids})
        )

    def ship_view(self, request: HttpRequest) -> HttpResponse:
        """Ask for the carrier and tracking numbers, then ship each order through the service."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        ids = [int(pk) for pk in request.GET.get("ids", "").split(",") if pk.strip().isdigit()]
        orders = Order.objects.filter(pk__in=ids).order_by("pk")
        if not orders:
            self.message_user(request, _("No orders were selected."), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:orders_order_changelist"))
        form = ShipmentForm(request.POST or None, orders=orders)
        if request.method == "POST" and form.is_valid():
            for order in form.orders:
                try:
                    shipment = order_ship(
                        order_id=order.pk,
                        carrier=form.cleaned_data["carrier"],
                        tracking_number=form.tracking_number(order),
                        shipped_by=request.user,
                    )
                except OrderError as error:
                    self.message_user(request, str(error), messages.ERROR)
                else:
                    self.message_user(
                        request,
                        _(
                            "Order %(number)s is marked shipped. The capture of %(amount)s "
                            "is queued and the customer will be e-mailed once it is debited."
                        )
                        % {
                            "number": order.number,
                            "amount": format_money(shipment.amount, shipment.currency),
                        },
                        messages.SUCCESS,
                    )
            if len(form.orders) == 1:
                return HttpResponseRedirect(
                    reverse("admin:orders_order_change", args=[form.orders[0].pk])
                )
            return HttpResponseRedirect(reverse("admin:orders_order_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Mark shipped"),
            "opts": self.model._meta,
            "form": form,
            "shippable_status": OrderStatus.CONFIRMED,
        }
        return TemplateResponse(request, "admin/orders/order/ship.html", context)
