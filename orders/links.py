"""The signed link to an order's page, e-mailed to the customer (no account, no login).

The page only shows the order: it changes nothing, so the link may live as
long as the order. Without a valid signature the page answers 404, the same
as for an order that does not exist.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import translation
from django.utils.crypto import constant_time_compare

from orders.models import Order

ORDER_PAGE_SALT = "orders.order_page"


def _signature(order_token: str) -> str:
    return signing.Signer(salt=ORDER_PAGE_SALT).signature(order_token)


def order_page_path(order: Order) -> str:
    """The order page's path with its signature, in the language the order was placed in."""
    with translation.override(order.language):
        path = reverse("shop:order_confirmation", kwargs={"token": order.token})
    return f"{path}?{urlencode({'sig': _signature(str(order.token))})}"


def order_page_url(order: Order) -> str:
    return f"{settings.SHOP_BASE_URL}{order_page_path(order)}"


def order_page_signature_valid(order_token: str, signature: str) -> bool:
    if not signature or len(signature) > 200:
        return False
    return constant_time_compare(_signature(str(order_token)), signature)
