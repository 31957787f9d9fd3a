"""Fraud review: staff approve a payment the provider's fraud check holds.

``payment_request_review_approval`` records the request (the admin action, or
a review approved in the provider's dashboard); the worker runs
:class:`ApproveReview` through the engine, and the success confirms the order
(order locked first, then the payment). Rejecting is cancelling the order.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from orders.models import OPEN_STATUSES, SHIPPABLE_STATUSES, Order, OrderStatus
from orders.services import order_confirm
from payments.exceptions import InvalidPaymentTransition
from payments.models import (
    CustomerEmail,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from payments.operations import engine, keys, ledger, payment_state
from payments.operations.capture import payment_retry_failed_captures
from payments.providers import get_provider
from payments.providers.base import ApproveReviewRequest, ApproveReviewResult


def payment_request_review_approval(*, order_id: int) -> None:
    """Staff approve a payment held by the fraud check; the worker tells the provider.

    Once the provider confirms, the order is confirmed (shippable) and the
    customer told. Raises ``InvalidPaymentTransition`` when the order's
    payment is not in review. Rejecting is cancelling the order.
    """
    with transaction.atomic():
        payment = (
            engine.payment_qs_select_for_update()
            .filter(order_id=order_id, status=PaymentStatus.IN_REVIEW)
            .first()
        )
        order = Order.objects.get(pk=order_id)
        # In review at checkout (order "being verified"), or a replacement
        # authorization in review for an order already confirmed.
        if payment is None or order.status not in OPEN_STATUSES:
            raise InvalidPaymentTransition(_("this order's payment is not in fraud review"))
        engine.request(
            payment,
            operation=LedgerOperation.APPROVE_REVIEW,
            key=keys.approve_review(payment.pk),
            amount=payment.authorized_amount,
        )


@engine.register
class ApproveReview(engine.Operation):
    """Close the provider's review as approved; confirm the order and tell the customer."""

    operation = LedgerOperation.APPROVE_REVIEW
    lock_order = True  # apply confirms the order

    def check(self, payment: Payment, requested: PaymentLedgerEntry) -> engine.Refusal | None:
        order_status = Order.objects.get(pk=payment.order_id).status
        if ledger.pending(payment, LedgerOperation.VOID) or order_status == OrderStatus.CANCELLED:
            return engine.Refusal(
                "order_cancelled", "The order was cancelled meanwhile.", quiet=True
            )
        if payment.status != PaymentStatus.IN_REVIEW:
            return engine.Refusal(
                "not_in_review", f"The payment is {payment.get_status_display()}, not in review."
            )
        return None

    def call(self, payment: Payment, requested: PaymentLedgerEntry) -> ApproveReviewResult:
        return get_provider(payment.provider).approve_review(
            ApproveReviewRequest(
                provider_reference=payment.provider_reference,
                idempotency_key=requested.idempotency_key,
            )
        )

    def apply(
        self, payment: Payment, requested: PaymentLedgerEntry, result: ApproveReviewResult
    ) -> int:
        payment_state.settle_status(payment, PaymentStatus.AUTHORIZED)
        order = Order.objects.get(pk=payment.order_id)
        if order.status == OrderStatus.IN_REVIEW:
            order_confirm(order_id=order.pk)
            payment_state.queue_email_after(
                payment, CustomerEmail.Kind.REVIEW_APPROVED, requested, 0
            )
        elif order.status in SHIPPABLE_STATUSES:
            # A replacement authorization: captures the lapsed hold could not make move here.
            transaction.on_commit(lambda: payment_retry_failed_captures(order_id=order.pk))
        # Cancelled meanwhile: the release of the hold is on its way; nothing to confirm.
        return 0


def payment_approve_review(
    *, payment_id: int, idempotency_key: str, attempt: int = 1
) -> engine.OperationOutcome:
    """Run a requested review approval (:class:`ApproveReview`); safe to run again."""
    return ApproveReview(
        payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt
    ).run()
