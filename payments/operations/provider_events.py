"""Provider events (webhooks): stored once, then the payment is brought in line.

A webhook is stored once (by its event id) with its processing task, in one
transaction; the worker then asks the provider which payment the event is
about (a typed ``ProviderNotice``: the generic code never reads a provider's
payload) and brings that payment in line with the provider's *current*
state, read afresh, so duplicates and any order of arrival are harmless.
What each event did is kept on it for staff.
"""

import json

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from payments.exceptions import InvalidPaymentTransition, PaymentError, ProviderUnavailable
from payments.models import (
    CAPTURABLE_STATUSES,
    HOLDING_STATUSES,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentStatus,
    ProviderEvent,
)
from payments.operations import engine, keys, ledger, payment_state
from payments.operations.authorization import payment_sync_authorization
from payments.operations.refund import apply_refund
from payments.operations.review import payment_request_review_approval
from payments.providers import get_provider, read_provider_event
from payments.providers.base import PaymentState, ProviderNotice, ProviderRefund
from shop.money import format_money

EVENT_MAX_ATTEMPTS = 8


def payment_event_storable(*, event_id: str, event_type: str, payload: dict) -> bool:
    """Whether the event table can hold this event: an id and a type of the column's
    sizes, and no NUL character anywhere (PostgreSQL refuses it in text and JSON)."""
    return (
        0 < len(event_id) <= ProviderEvent._meta.get_field("event_id").max_length
        and 0 < len(event_type) <= ProviderEvent._meta.get_field("type").max_length
        and "\\u0000" not in json.dumps(payload)
    )


def payment_event_record(*, provider: str, event_id: str, event_type: str, payload: dict) -> bool:
    """Store a verified webhook event and enqueue its processing; ``False`` for a duplicate."""
    with transaction.atomic():
        event, created = ProviderEvent.objects.get_or_create(
            provider=provider,
            event_id=event_id,
            defaults={"type": event_type, "payload": payload},
        )
        if created:
            payment_event_process_task.enqueue(event_pk=event.pk)
    return created


def payment_event_process(*, event_pk: int) -> str:
    """Run the event's handling once it is recorded; a provider outage retries with backoff."""
    with transaction.atomic():
        event = ProviderEvent.objects.select_for_update().get(pk=event_pk)
        if event.processed_at is not None:
            return "already processed"
        event.attempts += 1
        event.save(update_fields=["attempts"])
    try:
        notice = read_provider_event(event.provider, event.type, event.payload)
        outcome = payment_sync_from_notice(provider=event.provider, notice=notice)
    except ProviderUnavailable as error:
        if event.attempts < EVENT_MAX_ATTEMPTS:
            with transaction.atomic():
                ProviderEvent.objects.filter(pk=event.pk).update(outcome=f"retrying: {error}")
                payment_event_process_task.using(
                    run_after=timezone.now() + engine.retry_delay(event.attempts)
                ).enqueue(event_pk=event.pk)
            return "retry scheduled"
        outcome = f"gave up after {event.attempts} attempts: {error}"
    except PaymentError as error:
        # Refused for good (asking again would not help): kept for staff to read.
        outcome = f"failed: {error.code}: {error}"
    ProviderEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(), outcome=outcome)
    return outcome


@task()
def payment_event_process_task(event_pk: int) -> str:
    """A webhook event, after the endpoint answered: bring its payment in line."""
    return payment_event_process(event_pk=event_pk)


def payment_sync_from_notice(*, provider: str, notice: ProviderNotice | None) -> str:
    """What to do with a decoded event: nothing for a type not handled, else sync its payment."""
    if notice is None:
        return "not handled"
    if not notice.provider_reference:
        return "no payment reference: ignored"
    return payment_sync_with_provider(
        provider=provider, provider_reference=notice.provider_reference, operation=notice.operation
    )


def _payment_for_event(provider: str, provider_reference: str, operation: str) -> Payment | None:
    """The payment a provider object belongs to: by reference, or by the operation it carries.

    An event can arrive before the shopper's request stored the reference.
    """
    payments = Payment.objects.filter(provider=provider)
    payment = payments.filter(provider_reference=provider_reference).first()
    if payment is None and provider_reference:
        payment_id = keys.payment_id_of_authorization(operation)
        if payment_id is not None:
            payment = payments.filter(pk=payment_id).first()
    return payment


def payment_sync_with_provider(
    *, provider: str, provider_reference: str, operation: str = ""
) -> str:
    """Bring a payment in line with the provider's current state (a webhook said it changed).

    - a pending authorization is settled (``payment_sync_authorization``);
    - a hold the provider cancelled or let lapse, which the shop did not
      void, is expired: the customer is asked to authorize again (staff are
      told when it was cancelled by hand in the provider's dashboard);
    - refunds made in the provider's dashboard are recorded in the ledger
      and the customer is e-mailed; the shop's own are left to their task;
    - a review closed in the dashboard as approved approves the payment
      here; closed otherwise, or a dispute, flags the payment for staff;
    - money captured outside the shop is flagged, never guessed.
    """
    payment = _payment_for_event(provider, provider_reference, operation)
    if payment is None:
        return "no payment of this shop"
    if payment.status == PaymentStatus.PENDING:
        return payment_sync_authorization(
            payment_id=payment.pk, provider_reference=provider_reference
        )
    state = get_provider(payment.provider).retrieve_state(provider_reference)
    done: list[str] = []
    with transaction.atomic():
        payment = engine.lock_payment(payment.pk)
        done += _sync_cancellation(payment, state)
        done += _sync_refunds(payment, state)
        done += _sync_flags(payment, state)
        payment_state.save(payment)
    if state.review_closed_reason == "approved" and payment.status == PaymentStatus.IN_REVIEW:
        try:
            payment_request_review_approval(order_id=payment.order_id)
            done.append("review approved at the provider: approval recorded")
        except InvalidPaymentTransition:
            pass
    return "; ".join(done) or "in step"


def _sync_cancellation(payment: Payment, state: PaymentState) -> list[str]:
    if state.status != "cancelled" or payment.status not in HOLDING_STATUSES:
        return []
    if ledger.pending(payment, LedgerOperation.VOID) or ledger.pending(
        payment, LedgerOperation.CAPTURE
    ):
        return []  # the shop's own operation is on its way: its answer tells
    if payment.ledger.filter(operation=LedgerOperation.VOID, event=LedgerEvent.SUCCEEDED).exists():
        return []
    payment_state.expire(payment)
    if state.cancellation_reason != "expired":
        payment_state.flag(
            payment,
            "cancelled_at_provider",
            f"The payment was cancelled at the provider ({state.cancellation_reason or 'by hand'}),"
            " not by the shop; the customer was asked to authorize again.",
        )
    return ["hold cancelled at the provider: expired"]


def _sync_refunds(payment: Payment, state: PaymentState) -> list[str]:
    known = {
        value
        for pair in payment.ledger.filter(operation=LedgerOperation.REFUND).values_list(
            "provider_reference", "idempotency_key"
        )
        for value in pair
    }
    done = []
    for refund in state.refunds:
        key = keys.refund_external(refund.provider_reference)
        if refund.operation:
            done += _finish_own_refund(payment, refund)
            continue
        if refund.provider_reference in known or key in known:
            continue  # recorded already
        amount = refund.amount
        if amount > payment.refundable_amount:
            # Never recorded in part: the ledger would then disagree with the provider.
            payment_state.flag(
                payment,
                "refund_mismatch",
                f"Refund {refund.provider_reference} of "
                f"{format_money(amount, payment.currency)} exceeds what the ledger has "
                "captured and not refunded: check the payment at the provider.",
            )
            done.append(f"refund {refund.provider_reference} exceeds the ledger: flagged")
            continue
        requested = ledger.record(
            payment,
            operation=LedgerOperation.REFUND,
            event=LedgerEvent.REQUESTED,
            amount=amount,
            idempotency_key=key,
            message="refunded in the provider's dashboard",
        )
        apply_refund(payment, requested, amount)
        ledger.record(
            payment,
            operation=LedgerOperation.REFUND,
            event=LedgerEvent.SUCCEEDED,
            amount=amount,
            idempotency_key=key,
            provider_reference=refund.provider_reference,
            message="refunded in the provider's dashboard",
        )
        done.append(f"refund {refund.provider_reference} recorded")
    return done


def _finish_own_refund(payment: Payment, refund: ProviderRefund) -> list[str]:
    """The shop's own refund, done at the provider: recorded if its task has not yet.

    A refund the provider finishes later (in progress when the task asked) is
    recorded here, once, as its task would (the e-mail is queued with it).
    """
    entries = ledger.key_entries(payment, refund.operation)
    requested = entries.get(LedgerEvent.REQUESTED)
    if requested is None or requested.operation != LedgerOperation.REFUND:
        return []
    if LedgerEvent.SUCCEEDED in entries:
        return []
    apply_refund(payment, requested, refund.amount)
    ledger.record(
        payment,
        operation=LedgerOperation.REFUND,
        event=LedgerEvent.SUCCEEDED,
        amount=refund.amount,
        idempotency_key=refund.operation,
        provider_reference=refund.provider_reference,
        message="finished at the provider",
    )
    if payment.failure_code and not ledger.has_open_failures(payment):
        payment.needs_attention = False
        payment.failure_code = ""
        payment.failure_message = ""
    return [f"refund {refund.provider_reference} finished at the provider: recorded"]


def _sync_flags(payment: Payment, state: PaymentState) -> list[str]:
    done = []
    if state.disputed and payment.failure_code != "disputed":
        payment_state.flag(
            payment,
            "disputed",
            "The customer disputed the payment with their bank: answer the dispute in the "
            "provider's dashboard before its deadline.",
        )
        done.append("dispute flagged")
    closed = state.review_closed_reason
    if closed and closed != "approved" and payment.status == PaymentStatus.IN_REVIEW:
        payment_state.flag(
            payment,
            "review_closed",
            f"The provider's review was closed as {closed}: cancel the order or contact the "
            "customer.",
        )
        done.append(f"review closed as {closed}: flagged")
    if state.review_open and payment.status in CAPTURABLE_STATUSES:
        payment_state.flag(
            payment,
            "review_opened",
            "The provider opened a fraud review after the authorization: check the order "
            "before shipping.",
        )
        done.append("late review flagged")
    captured_by_shop = payment.captured_amount
    if state.captured_amount > captured_by_shop and not ledger.pending(
        payment, LedgerOperation.CAPTURE
    ):
        payment_state.flag(
            payment,
            "captured_outside",
            f"The provider shows {format_money(state.captured_amount, payment.currency)} "
            f"captured, the shop's ledger {format_money(captured_by_shop, payment.currency)}: "
            "a capture was made outside the shop.",
        )
        done.append("capture outside the shop flagged")
    return done
