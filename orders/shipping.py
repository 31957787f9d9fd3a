"""Shipping methods offered at checkout: code, label, price in minor units."""

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ShippingMethod:
    code: str
    name: str | Promise
    delay: str | Promise
    price_amount: int
    # Working days from the order to delivery, at the earliest and at the latest.
    min_working_days: int = 1
    max_working_days: int = 1
    currency: str = field(default_factory=lambda: settings.SHOP_CURRENCY)


SHIPPING_METHODS: dict[str, ShippingMethod] = {
    method.code: method
    for method in (
        ShippingMethod("standard", _("Standard delivery"), _("3 to 5 working days"), 690, 3, 5),
        ShippingMethod("express", _("Express delivery"), _("next working day"), 1490, 1, 1),
    )
}
DEFAULT_SHIPPING_METHOD = "standard"
