""" "Find my order": e-mail the signed link to an order's page to whoever ordered it.

The answer is the same whether or not the order exists (nothing to learn by
guessing), and requests are rate-limited per address and per browser's IP
through Django's cache, so the form cannot be used to flood an inbox.
"""

import hashlib
import uuid

from django.conf import settings
from django.core.cache import cache

from orders.models import OPEN_STATUSES, Order, OrderStatus
from payments.emails import customer_email_queue
from payments.models import CustomerEmail

# Orders whose page is worth a link: placed, whatever happened to them since.
LINKABLE_STATUSES = OPEN_STATUSES | {OrderStatus.SHIPPED, OrderStatus.CANCELLED}


def _within_limit(key: str, limit: int, window: int) -> bool:
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        count = 1
    return count <= limit


def find_order_allowed(*, email: str, client_ip: str) -> bool:
    """Whether this request is within the limits (each call counts as one request)."""
    window = settings.SHOP_FIND_ORDER_WINDOW_SECONDS
    address = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    by_ip = _within_limit(f"find-order:ip:{client_ip}", settings.SHOP_FIND_ORDER_PER_IP, window)
    by_email = _within_limit(
        f"find-order:email:{address}", settings.SHOP_FIND_ORDER_PER_EMAIL, window
    )
    return by_ip and by_email


def order_link_send(*, email: str, number: str) -> None:
    """Queue an e-mail with the order page's link if ``number`` is an order placed by ``email``.

    Says nothing either way: the caller shows the same answer.
    """
    order = (
        Order.objects.filter(
            number=number, email__iexact=email.strip(), status__in=LINKABLE_STATUSES
        )
        .only("pk")
        .first()
    )
    if order is None:
        return
    customer_email_queue(
        key=f"order-link-{order.pk}-{uuid.uuid4().hex}",
        kind=CustomerEmail.Kind.ORDER_LINK,
        order_id=order.pk,
    )
