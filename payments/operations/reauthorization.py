"""Re-authorization: a new hold for an order whose authorization lapsed or was declined.

The customer follows the link e-mailed when a hold lapsed, enters a card,
and the new authorization (``payment_authorize``) replaces the old one.
"""

from dataclasses import dataclass

from orders.models import SHIPPABLE_STATUSES, Order
from payments.models import REPLACEABLE_STATUSES, Payment, PaymentStatus
from payments.operations.authorization import (
    payment_authorize,
    payment_create_for_order,
    payment_outstanding_amount,
)
from payments.operations.card_sessions import payment_card_session_check
from payments.providers.base import CompletedCardSession
from payments.selectors import payment_latest_for_order


@dataclass(frozen=True)
class Reauthorization:
    """Whether an order needs a new authorization, for how much, and its latest payment."""

    needed: bool
    outstanding: int
    current: Payment | None


def payment_reauthorization(*, order: Order) -> Reauthorization:
    """Whether the customer must authorize again (the link e-mailed when a hold lapsed).

    Needed while the order can still ship, something is left to capture, and
    its latest payment holds nothing: it lapsed, was declined or released, or
    its 3-D Secure was never finished.
    """
    outstanding = payment_outstanding_amount(order_id=order.pk)
    current = payment_latest_for_order(order_id=order.pk)
    needed = (
        order.status in SHIPPABLE_STATUSES
        and outstanding > 0
        and (
            current is None
            or current.status in REPLACEABLE_STATUSES
            or (current.status == PaymentStatus.PENDING and bool(current.action_url))
        )
    )
    return Reauthorization(needed=needed, outstanding=outstanding, current=current)


def payment_reauthorize(
    *, order_id: int, reference: str, session: CompletedCardSession, return_url: str
) -> Payment:
    """Authorize what an order still needs with the card the customer just entered.

    The new authorization replaces the lapsed one; ``action_url`` is set when
    the bank asks for 3-D Secure first. ``reference`` is what the card session
    was opened for (``payment_card_session_check``). Raises ``PaymentError``
    as ``payment_authorize`` does.
    """
    payment_card_session_check(reference=reference, payment_token=session.payment_token)
    payment = payment_create_for_order(
        order_id=order_id,
        payment_token=session.payment_token,
        card=session.card,
        method=session.method,
    )
    return payment_authorize(payment_id=payment.pk, return_url=return_url)
