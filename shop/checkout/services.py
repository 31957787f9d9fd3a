"""Placing an order: the checkout's one service, called by the checkout views.

It spans both sides, which is why it lives in the storefront: ``orders``
places the order (prices copied, stock reserved under row locks) and
``payments`` authorizes its total, in the shopper's request, since the
shopper waits for the answer. Views only translate its outcome into pages.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import transaction

from orders.models import PLACED_STATUSES, Order, OrderStatus
from orders.services import CustomerDetails, order_place
from payments.providers.base import CardDetails
from payments.selectors import payment_latest_for_order
from payments.services import (
    payment_authorize_attempt,
    payment_authorize_send,
    payment_complete_authentication,
    payment_create_for_order,
)


@dataclass(frozen=True, kw_only=True)
class PaymentChoice:
    """How the shopper pays: the method, the provider's single-use token, the card's outline."""

    method: str
    payment_token: str
    card: CardDetails


@dataclass(frozen=True)
class CheckoutOutcome:
    """The order as the checkout left it; ``action_url``: the bank's page to visit first."""

    order: Order
    action_url: str = ""


def checkout_place_order(
    *,
    checkout_token: uuid.UUID,
    quantities: Mapping[int, int],
    customer: CustomerDetails,
    shipping_method: str,
    language: str,
    payment: PaymentChoice,
    return_url: str = "",
) -> CheckoutOutcome:
    """Place the order and have its total authorized.

    Idempotent per ``checkout_token``: sending the form again finds the first
    order, and an authorization still awaited is asked again with the same
    key. When the bank asks for 3-D Secure, ``action_url`` is where the
    shopper goes; they come back to ``return_url``
    (``checkout_complete_authentication``). Raises ``OutOfStock`` (nothing
    reserved), ``ProviderUnavailable`` (outcome unknown: the attempt is kept)
    and ``PaymentError`` for a decline (the order is marked declined and its
    stock released).
    """
    # One commit for the order, its stock, its payment and the authorization's
    # "attempted" entry; the provider is called after it, outside any transaction.
    with transaction.atomic():
        order = order_place(
            checkout_token=checkout_token,
            quantities=quantities,
            customer=customer,
            shipping_method=shipping_method,
            language=language,
        )
        if order.status != OrderStatus.PENDING_PAYMENT:
            return CheckoutOutcome(order=order)
        created = payment_create_for_order(
            order_id=order.pk,
            method=payment.method,
            payment_token=payment.payment_token,
            card=payment.card,
        )
        attempt = payment_authorize_attempt(payment_id=created.pk, return_url=return_url)
    authorized = payment_authorize_send(attempt=attempt)
    if authorized.action_url:
        return CheckoutOutcome(order=order, action_url=authorized.action_url)
    order.refresh_from_db(fields=["status"])
    return CheckoutOutcome(order=order)


def checkout_complete_authentication(*, checkout_token: uuid.UUID) -> Order | None:
    """Back from the bank's 3-D Secure page: the order, its authorization settled.

    ``None`` when this checkout placed no order. Raises as ``checkout_place_order``.
    """
    order = Order.objects.filter(checkout_token=checkout_token).first()
    if order is None:
        return None
    payment = payment_latest_for_order(order_id=order.pk)
    if payment is not None and payment.action_url:
        payment_complete_authentication(payment_id=payment.pk)
    order.refresh_from_db(fields=["status"])
    return order


def checkout_placed_order(*, checkout_token: uuid.UUID) -> Order | None:
    """The order this checkout attempt placed (authorized, or held for review), if any."""
    return Order.objects.filter(checkout_token=checkout_token, status__in=PLACED_STATUSES).first()


def checkout_is_placed(order: Order) -> bool:
    """Whether the authorization went through (the order is confirmed or being verified)."""
    return order.status in PLACED_STATUSES
