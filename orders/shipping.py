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
    currency: str = field(default_factory=lambda: settings.SHOP_CURRENCY)


SHIPPING_METHODS: dict[str, ShippingMethod] = {
    method.code: method
    for method in (
        ShippingMethod("standard", _("Standard delivery"), _("3 to 5 working days"), 690),
        ShippingMethod("express", _("Express delivery"), _("next working day"), 1490),
    )
}
DEFAULT_SHIPPING_METHOD = "standard"
