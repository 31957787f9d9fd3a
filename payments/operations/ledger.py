"""The ledger: append-only entries of every money operation, and what they say.

Each operation writes ``requested``, ``attempted`` and an outcome under one
idempotency key (``payments.operations.keys``); what is still on its way, or
failed for good, is read back from those entries.
"""

from payments.models import (
    TERMINAL_EVENTS,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
)


def record(
    payment: Payment,
    *,
    operation: str,
    event: str,
    amount: int,
    idempotency_key: str,
    shipment_id: int | None = None,
    provider_reference: str = "",
    error_code: str = "",
    message: str = "",
) -> PaymentLedgerEntry:
    """Append one entry; the currency is the payment's."""
    return PaymentLedgerEntry.objects.create(
        payment=payment,
        order_id=payment.order_id,
        shipment_id=shipment_id,
        operation=operation,
        event=event,
        amount=amount,
        currency=payment.currency,
        idempotency_key=idempotency_key,
        provider_reference=provider_reference,
        error_code=error_code,
        message=message,
    )


def record_next(
    payment: Payment,
    requested: PaymentLedgerEntry,
    event: str,
    *,
    error_code: str = "",
    message: str = "",
) -> PaymentLedgerEntry:
    """Append the next entry of a request's key: same operation, amount, key and parcel."""
    return record(
        payment,
        operation=requested.operation,
        event=event,
        amount=requested.amount,
        idempotency_key=requested.idempotency_key,
        shipment_id=requested.shipment_id,
        error_code=error_code,
        message=message,
    )


def key_entries(payment: Payment, key: str) -> dict[str, PaymentLedgerEntry]:
    """The latest entry of each event for a key (with its parcel, in the same query)."""
    entries: dict[str, PaymentLedgerEntry] = {}
    for entry in (
        payment.ledger.filter(idempotency_key=key).select_related("shipment").order_by("pk")
    ):
        entries[entry.event] = entry
    return entries


def pending(payment: Payment, operation: str) -> list[PaymentLedgerEntry]:
    """Requests of ``operation`` on this payment that have no final outcome yet (one query)."""
    entries = list(
        payment.ledger.filter(
            operation=operation, event__in=[LedgerEvent.REQUESTED, *TERMINAL_EVENTS]
        )
    )
    keys_done = {entry.idempotency_key for entry in entries if entry.event in TERMINAL_EVENTS}
    return [
        entry
        for entry in entries
        if entry.event == LedgerEvent.REQUESTED and entry.idempotency_key not in keys_done
    ]


def pending_amount(payment: Payment, operation: str) -> int:
    return sum(entry.amount for entry in pending(payment, operation))


def failed_requests(payment: Payment, operation: str) -> list[PaymentLedgerEntry]:
    """Requests of ``operation`` that failed for good and never succeeded since."""
    events: dict[str, set[str]] = {}
    requests: dict[str, PaymentLedgerEntry] = {}
    for entry in payment.ledger.filter(operation=operation).order_by("pk"):
        events.setdefault(entry.idempotency_key, set()).add(entry.event)
        if entry.event == LedgerEvent.REQUESTED:
            requests[entry.idempotency_key] = entry
    return [
        requests[key]
        for key, seen in events.items()
        if key in requests and LedgerEvent.FAILED in seen and LedgerEvent.SUCCEEDED not in seen
    ]


def has_open_failures(payment: Payment) -> bool:
    """Whether a request on this payment failed and nothing has made up for it since.

    A failure is made up for by a success under its key, or, for a parcel's
    capture, by a success of any later request for the same parcel.
    """
    succeeded = payment.ledger.filter(event=LedgerEvent.SUCCEEDED)
    done_keys = set(succeeded.values_list("idempotency_key", flat=True))
    done_parcels = set(
        succeeded.filter(operation=LedgerOperation.CAPTURE).values_list("shipment_id", flat=True)
    )
    for failure in payment.ledger.filter(event=LedgerEvent.FAILED):
        if failure.idempotency_key in done_keys:
            continue
        if failure.shipment_id and failure.shipment_id in done_parcels:
            continue
        return True
    return False
