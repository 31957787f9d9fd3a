"""The ledger's last line of defence: the database itself refuses a second success per key.

The services never try to write one (they check under a row lock first), so
nothing else in the suite reaches these constraints; here they are exercised
directly, on whichever database the suite runs (SQLite locally, PostgreSQL in CI).
"""

import pytest
from django.db import IntegrityError, transaction

from payments.models import LedgerEvent, LedgerOperation, Payment, PaymentLedgerEntry
from tests.factories import ProductVariantFactory
from tests.helpers import place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def authorized():
    """An authorized payment: its ledger holds one ``succeeded`` authorization."""
    order = place_order({ProductVariantFactory(product__price_amount=5000).pk: 1})
    payment = Payment.objects.get(order=order)
    success = PaymentLedgerEntry.objects.get(
        payment=payment, operation=LedgerOperation.AUTHORIZE, event=LedgerEvent.SUCCEEDED
    )
    return payment, success.idempotency_key


def write(payment: Payment, key: str, event: str) -> PaymentLedgerEntry:
    return PaymentLedgerEntry.objects.create(
        payment=payment,
        order_id=payment.order_id,
        operation=LedgerOperation.CAPTURE,
        event=event,
        amount=100,
        currency=payment.currency,
        idempotency_key=key,
    )


def test_the_database_refuses_a_second_success_for_a_key(authorized):
    payment, key = authorized

    with pytest.raises(IntegrityError), transaction.atomic():
        write(payment, key, LedgerEvent.SUCCEEDED)

    assert PaymentLedgerEntry.objects.filter(idempotency_key=key, event="succeeded").count() == 1


def test_the_database_refuses_a_second_request_for_a_key(authorized):
    payment, _ = authorized
    write(payment, "capture-shipment-1-payment-1", LedgerEvent.REQUESTED)

    with pytest.raises(IntegrityError), transaction.atomic():
        write(payment, "capture-shipment-1-payment-1", LedgerEvent.REQUESTED)

    assert PaymentLedgerEntry.objects.filter(event="requested").count() == 1


def test_the_constraints_bind_one_key_only_and_only_those_events(authorized):
    payment, key = authorized
    before = PaymentLedgerEntry.objects.filter(idempotency_key=key).count()

    # Attempts, retries and failures repeat under one key; other keys succeed freely.
    for event in (LedgerEvent.ATTEMPTED, LedgerEvent.ATTEMPTED, LedgerEvent.RETRY_SCHEDULED):
        write(payment, key, event)
    write(payment, key, LedgerEvent.FAILED)
    write(payment, key, LedgerEvent.FAILED)
    write(payment, "another-key", LedgerEvent.SUCCEEDED)

    assert PaymentLedgerEntry.objects.filter(idempotency_key=key).count() == before + 5
