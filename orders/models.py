import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

ORDER_NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_order_number() -> str:
    return "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(10))


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Awaiting payment authorization")
    IN_REVIEW = "in_review", _("Being verified")
    CONFIRMED = "confirmed", _("Confirmed, to ship")
    PAYMENT_FAILED = "payment_failed", _("Payment declined")
    PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
    SHIPPED = "shipped", _("Shipped")
    CANCELLED = "cancelled", _("Cancelled")


# The one place that says which status may follow which.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING_PAYMENT: frozenset(
        {
            OrderStatus.CONFIRMED,
            OrderStatus.IN_REVIEW,
            OrderStatus.PAYMENT_FAILED,
            OrderStatus.CANCELLED,
        }
    ),
    # The payment service's fraud check holds the order until staff decide.
    OrderStatus.IN_REVIEW: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset(
        {OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.CANCELLED}
    ),
    # A partly shipped order ships the rest, or has the rest cancelled: either
    # way it ends "shipped" (its lines say what was cancelled).
    OrderStatus.PARTIALLY_SHIPPED: frozenset({OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED}),
    OrderStatus.PAYMENT_FAILED: frozenset(),
    OrderStatus.SHIPPED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
# Named sets of statuses, beside the table they follow from; code uses these, never a tuple.
# Placed at checkout (authorized, or held by the fraud check) and nothing shipped yet.
PLACED_STATUSES = frozenset({OrderStatus.CONFIRMED, OrderStatus.IN_REVIEW})
# What may ship: the statuses from which "shipped" can follow.
SHIPPABLE_STATUSES = frozenset(
    status for status, following in ORDER_TRANSITIONS.items() if OrderStatus.SHIPPED in following
)
# The only statuses an order with a parcel can be in: a shipment moves the order to one of
# them and no transition leads out (so an order in any other status has no parcel).
WITH_PARCEL_STATUSES = frozenset({OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED})
# Placed and not finished: what is left can be cancelled (or its payment reviewed).
OPEN_STATUSES = PLACED_STATUSES | SHIPPABLE_STATUSES


class Country(models.TextChoices):
    FR = "FR", _("France")
    BE = "BE", _("Belgium")
    LU = "LU", _("Luxembourg")
    CH = "CH", _("Switzerland")
    DE = "DE", _("Germany")
    ES = "ES", _("Spain")
    IT = "IT", _("Italy")
    NL = "NL", _("Netherlands")
    GB = "GB", _("United Kingdom")


class Order(models.Model):
    number = models.CharField(
        _("number"), max_length=16, unique=True, default=new_order_number, editable=False
    )
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # One per checkout attempt: a second submit of the same form finds this order.
    checkout_token = models.UUIDField(unique=True, editable=False)
    status = models.CharField(
        _("status"),
        max_length=32,
        choices=OrderStatus.choices,
        default=OrderStatus.PENDING_PAYMENT,
        db_index=True,
    )
    email = models.EmailField(_("email"))
    full_name = models.CharField(_("full name"), max_length=200)
    address_line1 = models.CharField(_("address"), max_length=200)
    address_line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    shipping_method = models.CharField(_("shipping method"), max_length=32)
    shipping_method_name = models.CharField(_("shipping method name"), max_length=100)
    shipping_amount = models.PositiveIntegerField(_("shipping (cents)"))
    subtotal_amount = models.PositiveIntegerField(_("subtotal (cents)"))
    total_amount = models.PositiveIntegerField(_("total (cents)"))
    cancelled_amount = models.PositiveIntegerField(
        _("cancelled (cents)"),
        default=0,
        help_text=_("What will not be charged: cancelled lines, and shipping if nothing ships."),
    )
    currency = models.CharField(_("currency"), max_length=3, default=settings.SHOP_CURRENCY)
    language = models.CharField(_("language"), max_length=8, default="fr")
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        permissions = [
            ("ship_order", _("Can mark orders shipped")),
            ("cancel_order", _("Can cancel orders")),
            ("correct_order_address", _("Can correct a placed order's address")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    total_amount=models.F("subtotal_amount") + models.F("shipping_amount")
                ),
                name="order_total_is_subtotal_plus_shipping",
            ),
            models.CheckConstraint(
                condition=models.Q(cancelled_amount__lte=models.F("total_amount")),
                name="order_cancelled_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def can_transition_to(self, status: str) -> bool:
        return status in ORDER_TRANSITIONS[self.status]

    @property
    def is_shippable(self) -> bool:
        return self.status in SHIPPABLE_STATUSES

    @property
    def is_cancellable(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def amount_due(self) -> int:
        """What the customer owes for this order: the total less what was cancelled."""
        return self.total_amount - self.cancelled_amount


class OrderLine(models.Model):
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order")
    )
    variant = models.ForeignKey(
        "shop.ProductVariant",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("variant"),
    )
    product_name = models.CharField(_("product"), max_length=200)
    size = models.CharField(_("size"), max_length=20)
    sku = models.CharField(_("SKU"), max_length=64)
    unit_price_amount = models.PositiveIntegerField(_("unit price (cents)"))
    quantity = models.PositiveIntegerField(_("quantity"))
    cancelled_quantity = models.PositiveIntegerField(_("cancelled"), default=0)
    total_amount = models.PositiveIntegerField(_("total (cents)"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="order_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    total_amount=models.F("unit_price_amount") * models.F("quantity")
                ),
                name="order_line_total_is_price_times_quantity",
            ),
            models.CheckConstraint(
                condition=models.Q(cancelled_quantity__lte=models.F("quantity")),
                name="order_line_cancelled_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_name} ({self.size})"


class Carrier(models.TextChoices):
    COLISSIMO = "colissimo", "Colissimo"
    CHRONOPOST = "chronopost", "Chronopost"
    DHL = "dhl", "DHL Express"
    UPS = "ups", "UPS"
    OTHER = "other", _("Other")


class Shipment(models.Model):
    """A parcel handed to the carrier: some or all of an order's lines."""

    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="shipments", verbose_name=_("order")
    )
    carrier = models.CharField(_("carrier"), max_length=32, choices=Carrier.choices)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    amount = models.PositiveIntegerField(
        _("value (cents)"),
        help_text=_(
            "What this parcel is worth, the amount captured for it: its lines, plus "
            "shipping on the first parcel; the last parcel takes what remains."
        ),
    )
    is_final = models.BooleanField(
        _("last parcel"), default=False, help_text=_("Nothing of the order is left to ship.")
    )
    currency = models.CharField(_("currency"), max_length=3, default=settings.SHOP_CURRENCY)
    created_at = models.DateTimeField(_("shipped at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("shipped by"),
    )

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")

    def __str__(self) -> str:
        return f"{self.order.number} / {self.get_carrier_display()} {self.tracking_number}".strip()


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(
        Shipment, on_delete=models.PROTECT, related_name="lines", verbose_name=_("shipment")
    )
    order_line = models.ForeignKey(
        OrderLine, on_delete=models.PROTECT, related_name="shipment_lines", verbose_name=_("line")
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("shipped line")
        verbose_name_plural = _("shipped lines")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="shipment_line_quantity_positive"
            ),
            models.UniqueConstraint(
                fields=["shipment", "order_line"], name="shipment_line_once_per_shipment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line.product_name} ({self.order_line.size})"


class ShippingRunStatus(models.TextChoices):
    DRAFT = "draft", _("Awaiting confirmation")
    QUEUED = "queued", _("Shipping")
    DONE = "done", _("Finished")


class ShippingRun(models.Model):
    """Staff shipping many orders at once (``orders/bulk_shipping.py``).

    The selection is kept here, not in a URL or a form, so a run can name any
    number of orders; once confirmed, the worker ships them in chunks and
    writes one ``ShippingRunResult`` per order: the progress and the report.
    """

    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ShippingRunStatus.choices,
        default=ShippingRunStatus.DRAFT,
    )
    order_ids = models.JSONField(_("orders"), default=list)
    carrier = models.CharField(_("carrier"), max_length=32, choices=Carrier.choices, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("shipping run")
        verbose_name_plural = _("shipping runs")

    def __str__(self) -> str:
        return f"#{self.pk}"

    @property
    def order_count(self) -> int:
        return len(self.order_ids)


class ShippingRunResult(models.Model):
    """What a shipping run did to one order: shipped (with the parcel), or refused and why.

    ``message`` is why it was refused. For a parcel, what the other apps did
    (the capture queued...) is read from their records when the report is
    shown, in the reader's language (``OrderAdminExtension.shipment_messages``).
    """

    run = models.ForeignKey(
        ShippingRun, on_delete=models.CASCADE, related_name="results", verbose_name=_("run")
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="+", verbose_name=_("order")
    )
    shipment = models.OneToOneField(
        Shipment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("parcel"),
    )
    message = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("shipping run result")
        verbose_name_plural = _("shipping run results")
        constraints = [
            models.UniqueConstraint(fields=["run", "order"], name="shipping_run_order_once"),
        ]

    def __str__(self) -> str:
        return f"{self.run} / {self.order_id}"

    @property
    def shipped(self) -> bool:
        return self.shipment_id is not None
