"""The reconciliation: the shop's ledger compared with what the provider says happened.

For a period, the provider lists its captures and refunds
(``PaymentProvider.list_records``); each is matched with the ledger's
successes by idempotency key, else by the provider's reference. What is on
one side only, or differs in amount or status, is a mismatch: it is kept as a
``ReconciliationItem`` linked to its order, and flags the payment
(``needs_attention``). Run daily by the worker (``reconciliation_daily_task``,
scheduled with the payments check) and on demand from the admin.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from payments.exceptions import PaymentError
from payments.models import (
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    ReconciliationItem,
    ReconciliationRun,
)
from payments.operations import keys
from payments.providers import get_provider
from payments.providers.base import ProviderRecord

logger = logging.getLogger(__name__)

DAY = timedelta(days=1)
Outcome = ReconciliationItem.Outcome
OPERATIONS = {"capture": LedgerOperation.CAPTURE, "refund": LedgerOperation.REFUND}


def payment_reconcile(*, since: datetime, until: datetime) -> ReconciliationRun:
    """Compare the ledger with the provider over ``[since, until)``; returns the run."""
    provider = get_provider()
    run = ReconciliationRun.objects.create(
        provider=provider.name, period_start=since, period_end=until
    )
    try:
        records = provider.list_records(since=since, until=until)
    except (PaymentError, NotImplementedError) as error:
        run.error = str(error) or type(error).__name__
        run.save(update_fields=["error"])
        return run
    items = _compare(provider.name, records, since, until)
    with transaction.atomic():
        for item in items:
            item.run = run
        ReconciliationItem.objects.bulk_create(items)
        flagged = {i.payment_id for i in items if i.outcome != Outcome.MATCHED and i.payment_id}
        Payment.objects.filter(pk__in=flagged).update(needs_attention=True)
        run.matched = sum(1 for i in items if i.outcome == Outcome.MATCHED)
        run.mismatched = len(items) - run.matched
        run.save(update_fields=["matched", "mismatched"])
    return run


def _item(outcome: str, operation: str, **fields) -> ReconciliationItem:
    payment = fields.pop("payment", None)
    if payment is not None:
        fields.update(payment=payment, order_id=payment.order_id, currency=payment.currency)
    return ReconciliationItem(outcome=outcome, operation=operation, **fields)


def _compare(
    provider: str, records: list[ProviderRecord], since: datetime, until: datetime
) -> list[ReconciliationItem]:
    payments = {
        p.provider_reference: p
        for p in Payment.objects.filter(
            provider=provider,
            provider_reference__in={r.payment_reference for r in records},
        )
    }
    successes = PaymentLedgerEntry.objects.filter(
        event=LedgerEvent.SUCCEEDED, operation__in=OPERATIONS.values(), payment__provider=provider
    ).select_related("payment")
    in_period = {e.pk: e for e in successes.filter(created_at__gte=since, created_at__lt=until)}
    by_key = {e.idempotency_key: e for e in in_period.values()}
    by_reference = {e.provider_reference: e for e in in_period.values() if e.provider_reference}
    items: list[ReconciliationItem] = []

    for record in records:
        operation = OPERATIONS[record.kind]
        payment = payments.get(record.payment_reference)
        if record.total:
            items.append(_compare_total(record, payment, successes, in_period))
            continue
        entry = (
            by_key.get(record.operation)
            or by_reference.get(record.reference)
            or by_key.get(keys.refund_external(record.reference))
        )
        if entry is None or entry.pk not in in_period:
            if record.status != "succeeded":
                continue  # in progress or failed at the provider, and nothing at the shop
            items.append(
                _item(
                    Outcome.MISSING_AT_SHOP,
                    operation,
                    payment=payment,
                    idempotency_key=record.operation,
                    provider_reference=record.reference,
                    provider_amount=record.amount,
                    provider_status=record.status,
                )
            )
            continue
        del in_period[entry.pk]
        outcome = Outcome.MATCHED
        if record.status != "succeeded":
            outcome = Outcome.STATUS_DIFFERS
        elif record.amount != entry.amount:
            outcome = Outcome.AMOUNT_DIFFERS
        items.append(
            _item(
                outcome,
                operation,
                payment=entry.payment,
                idempotency_key=entry.idempotency_key,
                provider_reference=record.reference,
                shop_amount=entry.amount,
                provider_amount=record.amount,
                provider_status=record.status,
            )
        )

    for entry in in_period.values():
        items.append(
            _item(
                Outcome.MISSING_AT_PROVIDER,
                entry.operation,
                payment=entry.payment,
                idempotency_key=entry.idempotency_key,
                provider_reference=entry.provider_reference,
                shop_amount=entry.amount,
            )
        )
    return items


def _compare_total(record, payment, successes, in_period) -> ReconciliationItem:
    """All captures of one payment against the provider's total for it."""
    if payment is None:
        return _item(
            Outcome.MISSING_AT_SHOP,
            LedgerOperation.CAPTURE,
            provider_reference=record.reference,
            provider_amount=record.amount,
            currency=record.currency,
        )
    captures = list(successes.filter(payment=payment, operation=LedgerOperation.CAPTURE))
    for entry in captures:
        in_period.pop(entry.pk, None)  # compared here, not one by one
    shop_amount = sum(e.amount for e in captures)
    outcome = Outcome.MATCHED
    if not captures:
        outcome = Outcome.MISSING_AT_SHOP
    elif shop_amount != record.amount:
        outcome = Outcome.AMOUNT_DIFFERS
    return _item(
        outcome,
        LedgerOperation.CAPTURE,
        payment=payment,
        provider_reference=record.reference,
        shop_amount=shop_amount,
        provider_amount=record.amount,
        provider_status=record.status,
    )


def reconciliation_daily(*, now: datetime | None = None) -> ReconciliationRun:
    """Yesterday, midnight to midnight in the shop's time zone."""
    today = timezone.localtime(now or timezone.now()).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return payment_reconcile(since=today - DAY, until=today)


def reconciliation_daily_run() -> dict:
    """The periodic job ``reconciliation-daily`` (``TASK_PERIODIC``): yesterday, reconciled.

    The workers keep the schedule (``worker.periodic``), so it is never lost
    with a worker; run twice for the same day, it only adds a second report.
    """
    run = reconciliation_daily()
    return {"run": run.pk, "matched": run.matched, "mismatched": run.mismatched}


@task()
def reconciliation_daily_task(reschedule: bool = False) -> dict:
    """Yesterday, reconciled once; ``reschedule`` is ignored (the periodic job schedules)."""
    return reconciliation_daily_run()


@task()
def reconciliation_run_task(since: str, until: str) -> dict:
    """A reconciliation staff asked for from the admin (ISO datetimes)."""
    run = payment_reconcile(
        since=datetime.fromisoformat(since), until=datetime.fromisoformat(until)
    )
    return {"run": run.pk, "matched": run.matched, "mismatched": run.mismatched}
