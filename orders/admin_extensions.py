"""The hook through which other apps extend the order admin (``OrderAdminExtension``).

Kept apart from ``orders.admin`` so the order admin and the shipping run's
pages (``orders.bulk_shipping_admin``) both read the registered extensions.
"""

from collections.abc import Callable, Sequence

from django.contrib.admin import ModelAdmin
from django.contrib.admin.options import InlineModelAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from orders.admin_audit import TimelineEvent
from orders.models import Order, Shipment


class OrderAdminExtension:
    """What another app adds to the order admin, without the orders app knowing that app.

    The hook for apps that extend the order admin (payments adds its inlines,
    the payment column and filter, its actions, the refund page): subclass
    this, set what you add, and call ``register_order_admin_extension`` with an
    instance from your ``admin.py``. ``OrderAdmin`` reads extensions when it is
    used, never when it is registered, so the order of ``INSTALLED_APPS`` does
    not matter and nothing is unregistered.

    - ``inlines``: inline classes, shown after the order's own;
    - ``list_display``: columns, callables taking the order (``@admin.display``);
    - ``list_filter``: filters, shown before the order's own;
    - ``actions``: admin actions, functions ``(model_admin, request, queryset)``;
    - ``fieldsets``: ``(title, {"fields": [callables taking the order]})``, read-only;
    - ``change_form_template``: a template extending
      ``admin/orders/order/change_form.html`` (its ``payment-tools`` block);
    - ``get_urls``, ``get_queryset``, ``change_view_context``, ``timeline``,
      ``shipment_messages``: see each method.

    An action (or button) only some staff may use carries its check: decorate
    it with ``allowed_if(check)``; the list hides it from others and refuses it.
    """

    inlines: Sequence[type[InlineModelAdmin]] = ()
    list_display: Sequence[Callable] = ()
    list_filter: Sequence = ()
    actions: Sequence[Callable] = ()
    fieldsets: Sequence[tuple] = ()
    change_form_template: str | None = None

    def get_urls(self, model_admin: ModelAdmin) -> list:
        """URL patterns added under the order admin's own (wrap views in ``admin_view``)."""
        return []

    def get_queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        """The change list's queryset, with what the added columns read fetched up front."""
        return queryset

    def change_view_context(
        self, model_admin: ModelAdmin, request: HttpRequest, object_id: str
    ) -> dict:
        """Extra context for the order's page (may also ``message_user``)."""
        return {}

    def timeline(self, order: Order) -> list[TimelineEvent]:
        """What this app saw happen to the order, for the order page's timeline."""
        return []

    def shipment_messages(self, shipments: Sequence[Shipment]) -> dict[int, str]:
        """What this app did when these parcels shipped, for staff: ``{shipment id: sentence}``.

        Shown after "parcel recorded" on the ship page and in a shipping run's
        report (payments: "the capture of 129,00 € is queued", "already paid
        with Alipay"). Read from this app's own records, in a fixed number of
        queries whatever the number of parcels; a parcel it has nothing to say
        about is left out.
        """
        return {}


def allowed_if(check: Callable[..., bool]) -> Callable[[Callable], Callable]:
    """Mark an admin action as allowed only to users ``check(user)`` accepts."""

    def mark(action: Callable) -> Callable:
        action.allowed_if = check
        return action

    return mark


# The registered extensions, read by ``OrderAdmin`` and the shipping run's report.
EXTENSIONS: list[OrderAdminExtension] = []


def register_order_admin_extension(extension: OrderAdminExtension) -> None:
    """Add an extension to the order admin (once per extension class)."""
    if not any(type(known) is type(extension) for known in EXTENSIONS):
        EXTENSIONS.append(extension)


def shipment_messages(shipments: Sequence[Shipment]) -> dict[int, str]:
    """What the extensions say about each parcel, joined: ``{shipment id: sentences}``."""
    said: dict[int, list[str]] = {}
    for extension in EXTENSIONS:
        for shipment_id, message in extension.shipment_messages(shipments).items():
            said.setdefault(shipment_id, []).append(message)
    return {shipment_id: " ".join(messages) for shipment_id, messages in said.items()}
