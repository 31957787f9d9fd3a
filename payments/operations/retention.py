"""Retention: declined checkouts that never held money are purged after a window.

Every declined checkout leaves an order, its lines, a payment, its ledger
entries (authorization attempted, failed), a card session, maybe an e-mail.
The card-testing limits bound how fast they come; this bounds how long they
stay. An order is **purgeable** when, placed more than the window ago:

- it is declined (``payment_failed``: its authorization was declined, or
  abandoned at the bank's page and cancelled), with no parcel and no
  shipping run naming it (``orders.retention``);
- every payment of it failed, with nothing authorized, captured or
  refunded, and is not flagged for staff;
- its ledger shows no money held or moved (``ledger_q_money_held``: only
  authorization attempts and failures, and the cancellation of an abandoned
  authentication that released nothing) and no request still on its way;
- no e-mail of it is still to send, no reconciliation line names it, and no
  provider event still to process is about one of its payments.

Anything that ever held or moved money (authorized then voided, captured,
held for review, expired) is never purged. The purge goes in batches of
``batch_size`` orders, one transaction each: the orders are locked with
SKIP LOCKED (a row someone is working on waits for the next run), their
payments after them the same way (the engine's lock order), the rule is
checked again under those locks, then the e-mails, ledger entries
(``PaymentLedgerEntry.objects.retention_delete``, the ledger's one way out),
card sessions and payments go, and the orders side deletes the orders and
their lines. Running it twice, or two at once, purges each order once.
"""

import logging
from dataclasses import dataclass, fields
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from orders.models import Order, OrderLine
from orders.retention import order_purge_declined, order_qs_declined_before
from payments.models import (
    CardSession,
    CustomerEmail,
    LedgerEvent,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
    ProviderEvent,
    ReconciliationItem,
    ledger_q_money_held,
)
from payments.operations import keys
from payments.providers import read_provider_event

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


@dataclass
class PurgeCounts:
    """Rows purged (or, for a dry run, that would be), per table."""

    orders: int = 0
    order_lines: int = 0
    payments: int = 0
    ledger_entries: int = 0
    card_sessions: int = 0
    customer_emails: int = 0

    def add(self, other: "PurgeCounts") -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def _open_event_payments() -> tuple[set[str], set[int]]:
    """The payments provider events still to process are about: references and ids.

    Decoded by their provider as the processing does; an event it cannot
    decode names no payment (its processing fails the same way).
    """
    references: set[str] = set()
    payment_ids: set[int] = set()
    for event in ProviderEvent.objects.filter(processed_at__isnull=True).iterator():
        try:
            notice = read_provider_event(event.provider, event.type, event.payload)
        except (KeyError, TypeError, ValueError, AttributeError, ImportError):
            continue
        if notice is None:
            continue
        if notice.provider_reference:
            references.add(notice.provider_reference)
        payment_id = keys.payment_id_of_authorization(notice.operation)
        if payment_id is not None:
            payment_ids.add(payment_id)
    return references, payment_ids


def _purgeable(cutoff: datetime, open_events: tuple[set[str], set[int]]) -> QuerySet[Order]:
    """Orders the rule lets go (module docstring), as one query."""
    references, payment_ids = open_events
    order = OuterRef("pk")
    kept_payments = Payment.objects.filter(order=order).filter(
        ~Q(status=PaymentStatus.FAILED)
        | Q(authorized_amount__gt=0)
        | Q(captured_amount__gt=0)
        | Q(refunded_amount__gt=0)
        | Q(needs_attention=True)
        | Q(provider_reference__in=sorted(references), provider_reference__gt="")
        | Q(pk__in=sorted(payment_ids))
    )
    succeeded_same_key = PaymentLedgerEntry.objects.filter(
        idempotency_key=OuterRef("idempotency_key"), event=LedgerEvent.SUCCEEDED
    )
    open_requests = PaymentLedgerEntry.objects.filter(
        order=order, event=LedgerEvent.REQUESTED
    ).exclude(Exists(succeeded_same_key))
    return (
        order_qs_declined_before(cutoff)
        .exclude(Exists(kept_payments))
        .exclude(
            Exists(PaymentLedgerEntry.objects.filter(order=order).filter(ledger_q_money_held()))
        )
        .exclude(Exists(open_requests))
        .exclude(Exists(CustomerEmail.objects.filter(order=order, sent_at__isnull=True)))
        .exclude(
            Exists(ReconciliationItem.objects.filter(Q(order=order) | Q(payment__order=order)))
        )
    )


def _related(order_ids: list[int]) -> dict[str, QuerySet]:
    tokens = Order.objects.filter(pk__in=order_ids).values_list("checkout_token", flat=True)
    return {
        "order_lines": OrderLine.objects.filter(order_id__in=order_ids),
        "customer_emails": CustomerEmail.objects.filter(order_id__in=order_ids),
        "ledger_entries": PaymentLedgerEntry.objects.filter(order_id__in=order_ids),
        "card_sessions": CardSession.objects.filter(reference__in=[str(t) for t in tokens]),
        "payments": Payment.objects.filter(order_id__in=order_ids),
    }


def _count(order_ids: list[int]) -> PurgeCounts:
    related = _related(order_ids)
    return PurgeCounts(
        orders=len(order_ids), **{name: queryset.count() for name, queryset in related.items()}
    )


def _purge_batch(order_ids: list[int], cutoff: datetime) -> PurgeCounts:
    """Delete the orders' rows; the caller holds the orders' and payments' locks."""
    related = _related(order_ids)
    counts = PurgeCounts()
    counts.customer_emails, _ = related["customer_emails"].delete()
    counts.ledger_entries = related["ledger_entries"].retention_delete()
    counts.card_sessions, _ = related["card_sessions"].delete()
    counts.payments, _ = related["payments"].delete()
    counts.orders, counts.order_lines = order_purge_declined(order_ids=order_ids, cutoff=cutoff)
    return counts


def payment_purge_declined_orders(
    *, cutoff: datetime, batch_size: int = BATCH_SIZE, dry_run: bool = False
) -> PurgeCounts:
    """Purge the declined checkouts placed before ``cutoff`` (module docstring).

    ``dry_run`` counts what would go and changes nothing. Returns the counts.
    """
    total = PurgeCounts()
    last_pk = 0
    while True:
        open_events = _open_event_payments()
        with transaction.atomic():
            candidates = list(
                _purgeable(cutoff, open_events)
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not candidates:
                break
            last_pk = candidates[-1]
            # The engine's lock order: the orders, then their payments by primary key;
            # an order with a payment someone else holds waits for the next run.
            locked = set(
                Payment.objects.select_for_update(skip_locked=True)
                .filter(order_id__in=candidates)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            busy = (
                Payment.objects.filter(order_id__in=candidates)
                .exclude(pk__in=sorted(locked))
                .values_list("order_id", flat=True)
            )
            # Checked again under the locks: anything that changed meanwhile stays.
            order_ids = list(
                _purgeable(cutoff, open_events)
                .filter(pk__in=candidates)
                .exclude(pk__in=list(busy))
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            if order_ids:
                total.add(_count(order_ids) if dry_run else _purge_batch(order_ids, cutoff))
        if len(candidates) < batch_size:
            break
    if not dry_run:
        logger.info("Declined checkouts purged (placed before %s): %s", cutoff.isoformat(), total)
    return total
