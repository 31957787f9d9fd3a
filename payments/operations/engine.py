"""The engine every money move runs on: locks, and the operation protocol over the ledger.

Every operation follows the same steps: under a row lock on the payment,
check the move and write an ``attempted`` ledger entry with the idempotency
key derived from the business operation (``payments.operations.keys``);
release the lock and call the provider; then, under the lock again, write the
outcome and update the amounts. A retry sends the same key, so the provider
moves money at most once, and the ledger accepts at most one success per key.

**One lock order, everywhere**: the order row first, then payment rows in
primary-key order (``lock_payment(..., with_order=True)``). The order-side
services lock the order first and send their signals from there, so the
payments side, called from those signals or from the worker, never takes the
order after a payment. Stock rows are locked only by the order-side services,
in primary-key order, after the order row (``order_place``: before it exists).

Capture, void, refund and review approval are :class:`Operation` subclasses
(``check`` / ``call`` / ``apply`` / ``on_refused``), registered by name; the
request is written to the ledger (``requested``) in the transaction of the
business change that calls for it, together with one task,
``payment_operation_run_task``, which runs any registered operation, as many
times as needed, with the same key. What an operation does to the payment row
under its lock (save, move, flag, expire, queue the e-mail) is in
``payments.operations.payment_state``.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db import transaction
from django.db.models import Subquery
from django.tasks import task
from django.utils import timezone

from orders.models import Order
from payments.exceptions import PaymentError, ProviderUnavailable
from payments.models import LedgerEvent, Payment, PaymentLedgerEntry
from payments.operations import ledger
from payments.operations.events import provider_call
from payments.operations.payment_state import ledger_failure, save

# Locks ------------------------------------------------------------------------


def payment_qs_select_for_update():
    """Payments locked in primary-key order, so two transactions never deadlock."""
    return Payment.objects.select_for_update().order_by("pk")


def lock_payment(payment_id: int, *, with_order: bool = False) -> Payment:
    """Lock a payment; ``with_order`` locks its order first (the one lock order)."""
    if not with_order:
        return payment_qs_select_for_update().get(pk=payment_id)
    # One statement finds and locks the order (the payment's row is only read, not locked).
    order = Order.objects.select_for_update().get(
        pk=Subquery(Payment.objects.filter(pk=payment_id).values("order_id")[:1])
    )
    payment = payment_qs_select_for_update().get(pk=payment_id)
    payment.order = order  # the locked row: callers read and change the order through it
    return payment


# Operations -------------------------------------------------------------------


class OperationOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    ALREADY_DONE = "already_done"
    RETRY_SCHEDULED = "retry_scheduled"
    DEFERRED = "deferred"
    FAILED = "failed"


# Failures after which nobody knows whether the provider moved the money.
UNKNOWN_OUTCOMES = frozenset({"provider_unavailable"})


@dataclass(frozen=True)
class Refusal:
    """Why an operation cannot run now: ``defer`` waits, otherwise it fails for good."""

    code: str
    message: str
    defer: bool = False
    # Nothing went wrong (the request became moot): recorded, not flagged.
    quiet: bool = False


MAX_RETRY_DELAY = timedelta(hours=1)


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff from ``PAYMENTS_CAPTURE_RETRY_BASE_SECONDS``, at most an hour."""
    seconds = settings.PAYMENTS_CAPTURE_RETRY_BASE_SECONDS * 2 ** min(attempt - 1, 16)
    return min(timedelta(seconds=seconds), MAX_RETRY_DELAY)


class Operation:
    """One requested money operation, run by the worker: attempt, provider call, outcome.

    A subclass names its ``operation`` (a ``LedgerOperation``) and says, as
    methods, what differs between operations:

    - ``check``: under the payment's lock, before anything is sent; returns a
      :class:`Refusal` to defer or refuse, ``None`` to go on;
    - ``call``: the provider call, with no lock held, with the request's key;
    - ``apply``: under the lock again, records a success on the payment and
      returns the amount that moved (for the ledger);
    - ``on_refused``: under the lock, after the provider refused for good.

    With ``lock_order``, the outcome is written with the order locked first
    (for an ``apply`` that changes the order).
    """

    operation: ClassVar[str]
    lock_order: ClassVar[bool] = False

    def __init__(self, *, payment_id: int, idempotency_key: str, attempt: int = 1) -> None:
        self.payment_id = payment_id
        self.key = idempotency_key
        self.attempt = attempt
        # The key's ledger entries (latest of each event), read under the lock by ``run``.
        self.entries: dict[str, PaymentLedgerEntry] = {}

    def check(self, payment: Payment, requested: PaymentLedgerEntry) -> Refusal | None:
        return None

    def call(self, payment: Payment, requested: PaymentLedgerEntry) -> Any:
        raise NotImplementedError

    def apply(self, payment: Payment, requested: PaymentLedgerEntry, result: Any) -> int:
        raise NotImplementedError

    def on_refused(self, payment: Payment, error: PaymentError) -> None:
        return None

    def run(self) -> OperationOutcome:
        """Attempt under the lock, call without it, record the outcome under it."""
        payment_id, key, attempt = self.payment_id, self.key, self.attempt
        with transaction.atomic():
            payment = lock_payment(payment_id)
            entries = self.entries = ledger.key_entries(payment, key)
            if LedgerEvent.SUCCEEDED in entries:
                return OperationOutcome.ALREADY_DONE
            requested = entries.get(LedgerEvent.REQUESTED)
            if requested is None:
                raise PaymentError(f"No {self.operation} was requested under {key!r}.")
            failed = entries.get(LedgerEvent.FAILED)
            retry = entries.get(LedgerEvent.RETRY_SCHEDULED)
            if failed is not None and (retry is None or retry.pk < failed.pk):
                # Failed for good: a copy of the task, or a retry scheduled before the
                # failure, does nothing; only a retry asked for since (staff's) goes on.
                return OperationOutcome.FAILED
            refusal = self.check(payment, requested)
            if refusal is not None and refusal.defer:
                schedule_retry(
                    payment, requested, attempt, refusal.code, refusal.message, deferred=True
                )
                return OperationOutcome.DEFERRED
            if refusal is not None:
                ledger_failure(
                    payment, requested, refusal.code, refusal.message, flagged=not refusal.quiet
                )
                save(payment)
                return OperationOutcome.FAILED
            ledger.record_next(
                payment, requested, LedgerEvent.ATTEMPTED, message=f"attempt {attempt}"
            )

        try:
            result = provider_call(
                lambda: self.call(payment, requested),
                payment=payment,
                operation=self.operation,
                key=key,
            )
        except ProviderUnavailable as error:
            with transaction.atomic():
                payment = lock_payment(payment_id)
                if attempt >= settings.PAYMENTS_CAPTURE_MAX_ATTEMPTS:
                    ledger_failure(
                        payment,
                        requested,
                        error.code,
                        f"Provider unavailable after {attempt} attempts: {error}",
                    )
                    save(payment)
                    return OperationOutcome.FAILED
                schedule_retry(payment, requested, attempt, error.code, str(error))
            return OperationOutcome.RETRY_SCHEDULED
        except PaymentError as error:
            with transaction.atomic():
                payment = lock_payment(payment_id)
                if LedgerEvent.SUCCEEDED in ledger.key_entries(payment, key):
                    return OperationOutcome.ALREADY_DONE
                ledger_failure(payment, requested, error.code, str(error))
                self.on_refused(payment, error)
                save(payment)
            return OperationOutcome.FAILED

        with transaction.atomic():
            payment = lock_payment(payment_id, with_order=self.lock_order)
            if LedgerEvent.SUCCEEDED in ledger.key_entries(payment, key):
                return OperationOutcome.ALREADY_DONE
            flag_before = (payment.needs_attention, payment.failure_code)
            moved = self.apply(payment, requested, result)
            # A flag ``apply`` raised (e.g. the status changed meanwhile) stays for staff.
            flagged_now = payment.needs_attention and (
                (payment.needs_attention, payment.failure_code) != flag_before
            )
            ledger.record(
                payment,
                operation=self.operation,
                event=LedgerEvent.SUCCEEDED,
                amount=moved,
                idempotency_key=key,
                shipment_id=requested.shipment_id,
                provider_reference=result.provider_reference,
            )
            if payment.failure_code and not flagged_now and not ledger.has_open_failures(payment):
                payment.needs_attention = False
                payment.failure_code = ""
                payment.failure_message = ""
            save(payment)
        return OperationOutcome.SUCCEEDED


# Every operation the worker can run, by its ``LedgerOperation`` name.
OPERATIONS: dict[str, type[Operation]] = {}


def register(operation: type[Operation]) -> type[Operation]:
    """Class decorator: make an operation runnable by ``payment_operation_run``."""
    OPERATIONS[operation.operation] = operation
    return operation


def payment_operation_run(
    *, operation: str, payment_id: int, idempotency_key: str, attempt: int = 1
) -> OperationOutcome:
    """Run a requested operation by name; safe to run any number of times per key."""
    runner = OPERATIONS[operation](
        payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt
    )
    return runner.run()


@task()
def payment_operation_run_task(
    operation: str, payment_id: int, idempotency_key: str, attempt: int = 1
) -> str:
    """The one task for every money operation (capture, void, refund, review approval)."""
    return payment_operation_run(
        operation=operation,
        payment_id=payment_id,
        idempotency_key=idempotency_key,
        attempt=attempt,
    )


def enqueue(
    operation: str,
    payment_id: int,
    key: str,
    *,
    attempt: int = 1,
    run_after: datetime | None = None,
) -> None:
    """Enqueue the operation's task in the caller's transaction."""
    runner = payment_operation_run_task
    if run_after is not None:
        runner = runner.using(run_after=run_after)
    runner.enqueue(operation=operation, payment_id=payment_id, idempotency_key=key, attempt=attempt)


def schedule_retry(
    payment: Payment,
    requested: PaymentLedgerEntry,
    attempt: int,
    code: str,
    message: str,
    *,
    deferred: bool = False,
) -> None:
    """Run the operation again later: after a provider outage (one attempt used, backoff
    growing) or because it must wait for others (``deferred``: no attempt used)."""
    delay = retry_delay(1 if deferred else attempt)
    next_attempt = attempt if deferred else attempt + 1
    ledger.record_next(
        payment,
        requested,
        LedgerEvent.RETRY_SCHEDULED,
        error_code=code,
        message=f"attempt {attempt}: {message}; next in {int(delay.total_seconds())} s",
    )
    enqueue(
        requested.operation,
        payment.pk,
        requested.idempotency_key,
        attempt=next_attempt,
        run_after=timezone.now() + delay,
    )


def request(
    payment: Payment,
    *,
    operation: str,
    key: str,
    amount: int,
    shipment_id: int | None = None,
    message: str = "",
) -> bool:
    """Record a request and enqueue its task, once per key; returns whether it was new."""
    if payment.ledger.filter(idempotency_key=key, event=LedgerEvent.REQUESTED).exists():
        return False
    ledger.record(
        payment,
        operation=operation,
        event=LedgerEvent.REQUESTED,
        amount=amount,
        idempotency_key=key,
        shipment_id=shipment_id,
        message=message,
    )
    enqueue(operation, payment.pk, key)
    return True
