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
from orders.services import CustomerDetails, order_place_or_get
from payments.exceptions import PaymentDeclined
from payments.models import PaymentStatus
from payments.providers.base import CardDetails
from payments.selectors import payment_latest_for_order
from payments.services import (
    payment_abandon_authorization,
    payment_authorize_attempt,
    payment_authorize_attempt_for_new_order,
    payment_authorize_send,
    payment_card_session_check,
    payment_complete_authentication,
    payment_create_for_order,
)
from shop.checkout.limits import AttemptIdentity, limits_check, limits_record_decline


@dataclass(frozen=True, kw_only=True)
class PaymentChoice:
    """How the shopper pays: the method, the provider's single-use token, the card's outline."""

    method: str
    payment_token: str
    card: CardDetails


# ``existing`` not given: ``checkout_place_order`` reads the checkout's order itself.
NOT_READ = object()


class PaymentChoiceChanged(Exception):
    """Raised when Place order would resume an authorization for a card or method the
    shopper no longer chose; the pending one is ended, the checkout must start afresh."""


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
    identity: AttemptIdentity | None = None,
    existing: Order | object | None = NOT_READ,
) -> CheckoutOutcome:
    """Place the order and have its total authorized.

    Idempotent per ``checkout_token``: sending the form again finds the first
    order, and an authorization still awaited is asked again with the same
    key. When the bank asks for 3-D Secure, ``action_url`` is where the
    shopper goes; they come back to ``return_url``
    (``checkout_complete_authentication``). Raises ``OutOfStock`` (nothing
    reserved), ``ProviderUnavailable`` (outcome unknown: the attempt is kept)
    and ``PaymentError`` for a decline (the order is marked declined and its
    stock released). A card token this checkout did not get from its own card
    session, or too old, raises ``CardSessionRefused`` before anything is placed.
    ``existing``: this checkout's order (``checkout_order``) or ``None``, as the
    caller has just read it (not read again; a placement racing it is still
    caught by the unique token). With ``identity`` (the views always give
    it), an attempt over a card-testing limit raises ``TooManyAttempts``
    first (``shop.checkout.limits``).
    Never resumes an authorization for another card or
    method than ``payment``: that one is ended and ``PaymentChoiceChanged``
    raised.
    """
    if identity is not None:
        limits_check(identity)
    payment_card_session_check(reference=str(checkout_token), payment_token=payment.payment_token)
    # One commit for the order, its stock, its payment and the authorization's
    # "attempted" entry; the provider is called after it, outside any transaction.
    looked_up = existing is not NOT_READ
    with transaction.atomic():
        placement = order_place_or_get(
            checkout_token=checkout_token,
            quantities=quantities,
            customer=customer,
            shipping_method=shipping_method,
            language=language,
            existing=existing if looked_up else None,
            looked_up=looked_up,
        )
        order, replaced = placement.order, False
        if placement.created:  # placed just now: no payment yet, nothing to lock or compare
            attempt = payment_authorize_attempt_for_new_order(
                order=order,
                method=payment.method,
                payment_token=payment.payment_token,
                card=payment.card,
                return_url=return_url,
            )
        elif order.status != OrderStatus.PENDING_PAYMENT:
            return CheckoutOutcome(order=order)
        else:
            pending = payment_latest_for_order(order_id=order.pk)
            replaced = (
                pending is not None
                and pending.status == PaymentStatus.PENDING
                and (pending.payment_token, pending.method)
                != (payment.payment_token, payment.method)
            )
            if not replaced:
                created = payment_create_for_order(
                    order_id=order.pk,
                    method=payment.method,
                    payment_token=payment.payment_token,
                    card=payment.card,
                )
                attempt = payment_authorize_attempt(payment_id=created.pk, return_url=return_url)
    if replaced:  # never resume another card's authorization: end it (no lock held)
        payment_abandon_authorization(payment_id=pending.pk)
        raise PaymentChoiceChanged(order.number)
    try:
        authorized = payment_authorize_send(attempt=attempt)
    except PaymentDeclined:
        limits_record_decline()
        raise
    if authorized.action_url:
        return CheckoutOutcome(order=order, action_url=authorized.action_url)
    # The order's row as the outcome's transaction locked and changed it.
    order.status = authorized.order.status
    return CheckoutOutcome(order=order)


def checkout_payment_replaced(*, checkout_token: uuid.UUID) -> bool:
    """A new payment choice: end whatever this checkout left waiting for the shopper.

    The 3-D Secure (or approval) page of the card chosen before is cancelled
    at the provider and the order it was for released (stock given back), so
    Place order can never resume it for the new card. Returns whether this
    checkout attempt had placed an order already (it must start afresh).
    """
    order = Order.objects.filter(checkout_token=checkout_token).first()
    if order is None:
        return False
    payment = payment_latest_for_order(order_id=order.pk)
    if order.status == OrderStatus.PENDING_PAYMENT and payment is not None:
        payment_abandon_authorization(payment_id=payment.pk)
    return True


def checkout_complete_authentication(*, checkout_token: uuid.UUID) -> Order | None:
    """Back from the bank's 3-D Secure page: the order, its authorization settled.

    ``None`` when this checkout placed no order. Raises as ``checkout_place_order``.
    """
    order = Order.objects.filter(checkout_token=checkout_token).first()
    if order is None:
        return None
    payment = payment_latest_for_order(order_id=order.pk)
    if payment is not None and payment.action_url:
        try:
            payment = payment_complete_authentication(payment_id=payment.pk)
        except PaymentDeclined:
            limits_record_decline()
            raise
        if payment.status == PaymentStatus.FAILED and payment.failure_code == (
            "authentication_abandoned"
        ):
            # Back after the hold (PAYMENTS_PENDING_HOLD_MINUTES): the order was
            # cancelled and its stock released; the shopper is told, and pays again.
            raise PaymentDeclined("Came back after the hold.", code="authentication_expired")
    order.refresh_from_db(fields=["status"])
    return order


def checkout_order(*, checkout_token: uuid.UUID) -> Order | None:
    """The order this checkout attempt created, whatever its status, if any."""
    return Order.objects.filter(checkout_token=checkout_token).first()


def checkout_is_placed(order: Order) -> bool:
    """Whether the authorization went through (the order is confirmed or being verified)."""
    return order.status in PLACED_STATUSES
