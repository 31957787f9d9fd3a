"""The payments check (the watch): what lapses, what stalled, what was abandoned.

Run by the workers every ``PAYMENTS_CHECK_INTERVAL_SECONDS`` as the periodic
job ``payments-check`` (``worker.periodic`` calls ``payment_watch_run``), or
by hand (``manage.py payments_watch``).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from payments.emails import customer_email_requeue_unsent, staff_email_expiring_authorizations
from payments.exceptions import PaymentError
from payments.models import (
    HOLDING_STATUSES,
    TERMINAL_EVENTS,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from payments.operations import engine, ledger, payment_state
from payments.operations.authorization import payment_authorize, payment_complete_authentication
from payments.operations.card_sessions import payment_card_sessions_purge_expired

logger = logging.getLogger(__name__)

# The operations the worker runs (the engine's registry), recovered when they stall.
WORKER_OPERATIONS = [
    LedgerOperation.CAPTURE,
    LedgerOperation.VOID,
    LedgerOperation.REFUND,
    LedgerOperation.APPROVE_REVIEW,
]


@dataclass(frozen=True)
class WatchReport:
    expired: list[int]
    warned: list[int]
    requeued: list[str]


def payment_watch_authorizations(*, now: datetime | None = None) -> WatchReport:
    """The periodic check: expire lapsed holds, warn staff of soon-lapsing ones, recover.

    - An authorization past its capture-before date with something left to
      capture is marked expired (never silently): the order shows it, and
      the customer gets a link to authorize again.
    - Staff get one e-mail listing authorizations that lapse within
      ``PAYMENTS_EXPIRY_WARNING_HOURS`` with something left to capture;
      each is listed once.
    - A checkout abandoned at the bank's 3-D Secure page (or a PayPal,
      Alipay or wallet page, or cut off during the authorization) is settled
      from the provider's answer after ``PAYMENTS_PENDING_HOLD_MINUTES``: still
      unfinished, the authorization is cancelled there and the stock released.
    - A capture, void or refund with no news for
      ``PAYMENTS_STALE_OPERATION_MINUTES`` (its worker died) is enqueued
      again with the same key, which the provider answers idempotently; so
      is a customer e-mail still unsent after that long.
    """
    now = now or timezone.now()
    expired: list[int] = []
    lapsing = Payment.objects.filter(
        status__in=HOLDING_STATUSES, authorization_expires_at__lte=now
    ).values_list("pk", flat=True)
    for payment_id in lapsing:
        with transaction.atomic():
            payment = engine.lock_payment(payment_id)
            if payment.status in HOLDING_STATUSES and payment.authorization_expires_at <= now:
                if ledger.pending(payment, LedgerOperation.CAPTURE) or ledger.pending(
                    payment, LedgerOperation.VOID
                ):
                    continue  # an operation is on its way: its own answer will tell
                payment_state.expire(payment)
                payment_state.save(payment)
                expired.append(payment.pk)

    # Each step runs whatever happens to the others (an SMTP outage must not
    # stop the recovery of money operations).
    warned: list[int] = []
    requeued: list[str] = []
    try:
        warned = _warn_staff_of_expiring(now)
    except Exception:
        logger.exception("Warning staff of lapsing authorizations failed")
    try:
        requeued = _requeue_stale_operations(now)
    except Exception:
        logger.exception("Re-enqueuing stalled operations failed")
    try:
        _settle_abandoned_authorizations(now)
    except Exception:
        logger.exception("Settling abandoned authorizations failed")
    return WatchReport(expired=expired, warned=warned, requeued=requeued)


def payment_watch_run() -> dict:
    """The periodic job ``payments-check`` (``TASK_PERIODIC``): the check, as JSON."""
    report = payment_watch_authorizations()
    return {
        "expired": report.expired,
        "warned": report.warned,
        "requeued": report.requeued,
        "card_sessions_purged": payment_card_sessions_purge_expired(),
    }


@task()
def payment_watch_authorizations_task(reschedule: bool = True) -> dict:
    """The check once. Rows queued before the workers' schedule no longer reschedule:
    the ``payments-check`` periodic job does (``reschedule`` is kept for them)."""
    return payment_watch_run()


def _settle_abandoned_authorizations(now: datetime) -> None:
    """Checkouts left at the bank's 3-D Secure page, or cut off mid-call, get an answer.

    The provider says how it ended (the key replays its first answer); a
    challenge never finished fails the order and releases its stock.
    """
    stale_before = now - timedelta(minutes=settings.PAYMENTS_PENDING_HOLD_MINUTES)
    pending = Payment.objects.filter(status=PaymentStatus.PENDING, created_at__lte=stale_before)
    for payment in pending.only("pk", "action_url"):
        try:
            if payment.action_url:
                payment_complete_authentication(payment_id=payment.pk)
            else:
                payment_authorize(payment_id=payment.pk)
        except PaymentError:
            pass  # recorded on the payment and the ledger; the order is released


def _warn_staff_of_expiring(now: datetime) -> list[int]:
    horizon = now + timedelta(hours=settings.PAYMENTS_EXPIRY_WARNING_HOURS)
    with transaction.atomic():
        payments = list(
            engine.payment_qs_select_for_update()
            .filter(
                status__in=HOLDING_STATUSES,
                authorization_expires_at__gt=now,
                authorization_expires_at__lte=horizon,
                expiry_warning_sent_at__isnull=True,
            )
            .select_related("order")
        )
        payments = [
            p for p in payments if p.capturable_amount > 0 or p.status == PaymentStatus.IN_REVIEW
        ]
        for payment in payments:
            payment.expiry_warning_sent_at = now
            payment.save(update_fields=["expiry_warning_sent_at"])
    if payments:
        try:
            staff_email_expiring_authorizations(payments)
        except Exception:
            Payment.objects.filter(pk__in=[p.pk for p in payments]).update(
                expiry_warning_sent_at=None
            )
            raise
    return [p.pk for p in payments]


def _requeue_stale_operations(now: datetime) -> list[str]:
    stale_before = now - timedelta(minutes=settings.PAYMENTS_STALE_OPERATION_MINUTES)
    requeued = []
    open_requests = (
        PaymentLedgerEntry.objects.filter(
            operation__in=WORKER_OPERATIONS, event=LedgerEvent.REQUESTED
        )
        .exclude(
            idempotency_key__in=PaymentLedgerEntry.objects.filter(event__in=TERMINAL_EVENTS).values(
                "idempotency_key"
            )
        )
        .order_by("pk")
    )
    for requested in open_requests:
        latest = (
            PaymentLedgerEntry.objects.filter(idempotency_key=requested.idempotency_key)
            .order_by("-pk")
            .first()
        )
        if latest.created_at <= stale_before:
            with transaction.atomic():
                ledger.record_next(
                    Payment.objects.get(pk=requested.payment_id),
                    requested,
                    LedgerEvent.RETRY_SCHEDULED,
                    message="no news from the worker: enqueued again",
                )
                engine.enqueue(requested.operation, requested.payment_id, requested.idempotency_key)
            requeued.append(requested.idempotency_key)
    requeued.extend(customer_email_requeue_unsent(older_than=stale_before))
    return requeued
