"""Stripe's records for the reconciliation, read through the library's auto-pagination.

Captures are read per PaymentIntent (``amount_received``: one total record
each), for PaymentIntents created up to ``CAPTURE_WINDOW`` before the period,
since a hold is captured within it; refunds one by one, with the shop's
operation from their metadata.
"""

from datetime import datetime, timedelta
from typing import Any

import stripe

from payments.providers.base import ProviderRecord

# Stripe holds last up to 30 days with extended authorization.
CAPTURE_WINDOW = timedelta(days=31)
# Objects per page; the library fetches the next pages as the loop goes.
PAGE_SIZE = 100


def _created(since: datetime, until: datetime) -> dict[str, int]:
    return {"gte": int(since.timestamp()), "lt": int(until.timestamp())}


def _metadata_operation(refund: Any) -> str:
    metadata = getattr(refund, "metadata", None) or {}
    return metadata.get("operation", "") if hasattr(metadata, "get") else ""


def list_records(
    client: stripe.StripeClient, *, since: datetime, until: datetime
) -> list[ProviderRecord]:
    """Captures (per PaymentIntent) and refunds of the period; Stripe errors propagate."""
    intents = client.v1.payment_intents.list(
        params={"created": _created(since - CAPTURE_WINDOW, until), "limit": PAGE_SIZE}
    )
    records = [
        ProviderRecord(
            kind="capture",
            payment_reference=intent.id,
            reference=intent.id,
            operation="",
            amount=intent.amount_received,
            currency=intent.currency.upper(),
            total=True,
        )
        for intent in intents.auto_paging_iter()
        if intent.amount_received
    ]
    refunds = client.v1.refunds.list(params={"created": _created(since, until), "limit": PAGE_SIZE})
    records += [
        ProviderRecord(
            kind="refund",
            payment_reference=getattr(refund, "payment_intent", "") or "",
            reference=refund.id,
            operation=_metadata_operation(refund),
            amount=refund.amount,
            currency=refund.currency.upper(),
            status=refund.status,
        )
        for refund in refunds.auto_paging_iter()
    ]
    return records
