"""Capture: a parcel shipped, its value is taken from the authorization.

The request is recorded in the shipment's transaction (``payment_request_capture``,
called by the ``order_shipped`` receiver); the worker runs :class:`Capture`
through the engine, with the key ``keys.capture(shipment, payment)``, and the
success queues the debit e-mail in the transaction that records it.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from payments.emails import customer_email_queue
from payments.exceptions import InvalidPaymentTransition, PaymentError
from payments.methods import METHODS, is_paid_at_order
from payments.models import (
    CAPTURABLE_STATUSES,
    CustomerEmail,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from payments.operations import engine, keys, ledger, payment_state
from payments.providers import get_provider
from payments.providers.base import CaptureRequest, CaptureResult
from shop.money import format_money


def payment_request_capture(*, order_id: int, shipment_id: int, amount: int, currency: str) -> None:
    """Record that a parcel must be charged and enqueue its capture.

    Called inside the shipment's transaction (by the ``order_shipped``
    receiver), with the order already locked: the request and its task
    commit with the shipment or not at all. Raises ``InvalidPaymentTransition``
    when the authorization cannot cover it, which rolls the shipment back.
    Idempotent per shipment. What it did is on the record, for staff
    (``payments.selectors.shipment_payments``): the capture request on the
    ledger, or, for an order paid at the order, the "parcel left" e-mail.
    """
    with transaction.atomic():
        paid = (
            engine.payment_qs_select_for_update()
            .filter(order_id=order_id, captured_amount__gt=0)
            .filter(method__in=[m for m in METHODS if is_paid_at_order(m)])
            .first()
        )
        if paid is not None:
            # Paid at the order: nothing to capture; the customer hears the parcel left.
            customer_email_queue(
                key=keys.email_shipped_paid(shipment_id),
                kind=CustomerEmail.Kind.SHIPPED_PAID,
                order_id=order_id,
                amount=amount,
            )
            return
        payment = (
            engine.payment_qs_select_for_update()
            .filter(order_id=order_id, status__in=CAPTURABLE_STATUSES)
            .first()
        )
        if payment is None:
            latest = Payment.objects.filter(order_id=order_id).first()
            if latest is not None and latest.status == PaymentStatus.IN_REVIEW:
                raise InvalidPaymentTransition(_("the payment is still in fraud review"))
            if latest is not None and latest.status == PaymentStatus.EXPIRED:
                raise InvalidPaymentTransition(
                    _("the authorization expired; the customer was asked to authorize again")
                )
            raise InvalidPaymentTransition(_("there is no authorized payment to capture"))
        key = keys.capture(shipment_id, payment.pk)
        if payment.ledger.filter(idempotency_key=key).exists():
            return  # this parcel's capture is already requested
        available = payment.capturable_amount - ledger.pending_amount(
            payment, LedgerOperation.CAPTURE
        )
        if currency != payment.currency or amount > available:
            raise InvalidPaymentTransition(
                _("%(amount)s asked, only %(available)s left on the authorization")
                % {
                    "amount": format_money(amount, currency),
                    "available": format_money(available, payment.currency),
                }
            )
        engine.request(
            payment,
            operation=LedgerOperation.CAPTURE,
            key=key,
            amount=amount,
            shipment_id=shipment_id,
        )


@engine.register
class Capture(engine.Operation):
    """Capture what a capture request asks for.

    The last parcel's capture is final: the provider releases what is left
    of the authorization. A success updates the amounts and queues the debit
    e-mail in the same transaction. The provider saying the hold lapsed
    expires the payment (the customer is asked to authorize again).
    """

    operation = LedgerOperation.CAPTURE
    final = False

    def check(self, payment: Payment, requested: PaymentLedgerEntry) -> engine.Refusal | None:
        # Decided by the parcel alone, so every attempt sends the same parameters.
        self.final = requested.shipment is not None and requested.shipment.is_final
        if LedgerEvent.ATTEMPTED in self.entries:
            # Sent before, outcome unknown: only the provider knows, and it replays
            # its first answer for this key. Never refuse locally here.
            return None
        if (
            payment.status not in CAPTURABLE_STATUSES
            or requested.amount > payment.capturable_amount
        ):
            return engine.Refusal(
                "not_capturable",
                f"Nothing left to capture: payment is {payment.get_status_display()}, "
                f"{payment.capturable_amount} left, {requested.amount} asked.",
            )
        others = [
            e for e in ledger.pending(payment, LedgerOperation.CAPTURE) if e.pk != requested.pk
        ]
        if self.final and others:
            # A final capture closes the authorization: earlier parcels go first.
            return engine.Refusal(
                "captures_pending", "Waiting for earlier parcels' captures.", defer=True
            )
        return None

    def call(self, payment: Payment, requested: PaymentLedgerEntry) -> CaptureResult:
        return get_provider(payment.provider).capture(
            CaptureRequest(
                provider_reference=payment.provider_reference,
                amount=requested.amount,
                currency=payment.currency,
                idempotency_key=requested.idempotency_key,
                final=self.final,
            )
        )

    def apply(self, payment: Payment, requested: PaymentLedgerEntry, result: CaptureResult) -> int:
        # Money the provider moved is always recorded, whatever happened meanwhile.
        payment.captured_amount += result.captured_amount
        fully = self.final or payment.captured_amount == payment.authorized_amount
        if payment.status != PaymentStatus.CAPTURED:
            payment_state.settle_status(
                payment, PaymentStatus.CAPTURED if fully else PaymentStatus.PARTIALLY_CAPTURED
            )
        payment_state.queue_email_after(
            payment, CustomerEmail.Kind.CAPTURED, requested, result.captured_amount
        )
        return result.captured_amount

    def on_refused(self, payment: Payment, error: PaymentError) -> None:
        """The provider says the hold lapsed: expire it, unless other captures are still open.

        An open capture may have gone through before the lapse; until its own
        answer is known the payment stays as it is (flagged), so nothing is
        asked twice.
        """
        if error.code != "authorization_expired" or not payment.can_transition_to(
            PaymentStatus.EXPIRED
        ):
            return
        if ledger.pending(payment, LedgerOperation.CAPTURE):
            return
        payment_state.expire(payment)


def payment_capture(
    *, payment_id: int, idempotency_key: str, attempt: int = 1
) -> engine.OperationOutcome:
    """Run a requested capture (:class:`Capture`); safe to run any number of times."""
    return Capture(payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt).run()


def payment_retry_failed_captures(*, order_id: int) -> int:
    """Staff's retry of captures that failed for good; returns how many were requeued.

    A capture whose outcome is unknown (the provider never answered) is
    retried with the same key, so a capture whose answer was lost is found,
    not repeated. A capture the provider refused is asked again under a new
    key (no money moved under the old one, and the provider would replay its
    refusal): on the same authorization while it can still be captured,
    otherwise on the order's current one.
    """
    requeued = 0
    with transaction.atomic():
        payments = list(engine.payment_qs_select_for_update().filter(order_id=order_id))
        current = next((p for p in payments if p.status in CAPTURABLE_STATUSES), None)
        for payment in payments:
            for requested in ledger.failed_requests(payment, LedgerOperation.CAPTURE):
                failure = payment.ledger.filter(
                    idempotency_key=requested.idempotency_key, event=LedgerEvent.FAILED
                ).last()
                if failure.error_code in engine.UNKNOWN_OUTCOMES:
                    # The provider may have done it: ask again with the same key.
                    ledger.record_next(
                        payment,
                        requested,
                        LedgerEvent.RETRY_SCHEDULED,
                        message="retry asked by staff: same key, the outcome was unknown",
                    )
                    engine.enqueue(LedgerOperation.CAPTURE, payment.pk, requested.idempotency_key)
                    requeued += 1
                    continue
                # The provider answered no (or was never asked): no money moved under
                # that key, and it would replay its refusal; ask under a new key.
                target = payment if payment.status in CAPTURABLE_STATUSES else current
                if target is None:
                    continue
                key = (
                    keys.capture(requested.shipment_id, target.pk)
                    if target.pk != payment.pk and requested.shipment_id
                    else keys.capture_retry(requested.idempotency_key, failure.pk)
                )
                if engine.request(
                    target,
                    operation=LedgerOperation.CAPTURE,
                    key=key,
                    amount=requested.amount,
                    shipment_id=requested.shipment_id,
                    message=f"retry of {requested.idempotency_key}",
                ):
                    requeued += 1
    return requeued
