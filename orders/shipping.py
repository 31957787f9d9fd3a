"""Shipping methods offered at checkout: code, label, price in minor units."""

from dataclasses import dataclass, field
from urllib.parse import quote

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


# Each carrier's public tracking page; ``{number}`` is the parcel's tracking number.
TRACKING_URLS: dict[str, str] = {
    "colissimo": "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
    "chronopost": "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={number}",
    "dhl": "https://www.dhl.com/fr-en/home/tracking.html?tracking-id={number}",
    "ups": "https://www.ups.com/track?tracknum={number}",
}


def tracking_url(carrier: str, tracking_number: str) -> str:
    """The carrier's tracking page for this parcel; "" when unknown."""
    template = TRACKING_URLS.get(carrier)
    if not template or not tracking_number:
        return ""
    return template.format(number=quote(tracking_number, safe=""))
