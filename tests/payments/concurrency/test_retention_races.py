"""The retention purge beside live work, on real PostgreSQL transactions.

A declined order someone holds a lock on is skipped (SKIP LOCKED), not waited
for; two purges at once delete each order once; checkouts declining while a
purge runs are untouched and never fail because of it.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from orders.models import Order, OrderStatus
from payments.models import Payment, PaymentLedgerEntry
from shop.retention import retention_purge_declined
from tests.factories import ProductVariantFactory
from tests.helpers import DECLINED
from tests.payments.concurrency.test_races import run_together
from tests.shop.test_retention import attempt

pytestmark = pytest.mark.django_db(transaction=True)


def old_declines(count: int) -> list[int]:
    variant = ProductVariantFactory(stock=1000)
    orders = [attempt(variant, DECLINED) for _ in range(count)]
    assert {order.status for order in orders} == {OrderStatus.PAYMENT_FAILED}
    ids = [order.pk for order in orders]
    Order.objects.filter(pk__in=ids).update(created_at=timezone.now() - timedelta(days=40))
    return ids


@pytest.mark.parametrize("held", ["order", "payment"])
def test_an_order_locked_elsewhere_is_skipped_not_waited_for(held):
    ids = old_declines(6)
    locked, release = threading.Event(), threading.Event()
    row = (
        Order.objects.filter(pk=ids[2])
        if held == "order"
        else Payment.objects.filter(order_id=ids[2])
    )

    def hold_lock() -> None:
        try:
            with transaction.atomic():
                row.select_for_update().get()
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock, daemon=True)
    holder.start()
    assert locked.wait(30)
    try:
        started = time.monotonic()
        report = retention_purge_declined(batch_size=2)
        elapsed = time.monotonic() - started
    finally:
        release.set()
        holder.join(30)

    assert elapsed < 10  # it did not wait for the lock
    assert report.declined.orders == 5
    assert list(Order.objects.values_list("pk", flat=True)) == [ids[2]]
    # The next run takes it.
    assert retention_purge_declined().declined.orders == 1
    assert not Order.objects.exists() and not Payment.objects.exists()


def test_two_purges_at_once_delete_each_order_once():
    ids = old_declines(12)
    entries = PaymentLedgerEntry.objects.filter(order_id__in=ids).count()

    outcomes = run_together([lambda: retention_purge_declined(batch_size=3) for _ in range(3)])

    assert [o.error for o in outcomes] == [None] * 3
    reports = [o.value.declined for o in outcomes]
    assert sum(r.orders for r in reports) == 12
    assert sum(r.ledger_entries for r in reports) == entries
    assert not Order.objects.exists() and not PaymentLedgerEntry.objects.exists()


def test_checkouts_declining_during_a_purge_are_untouched():
    old = old_declines(10)
    variant = ProductVariantFactory(stock=1000)

    outcomes = run_together(
        [lambda: retention_purge_declined(batch_size=2)]
        + [lambda: attempt(variant, DECLINED).pk for _ in range(4)]
    )

    assert [o.error for o in outcomes] == [None] * 5
    fresh = {o.value for o in outcomes[1:]}
    assert set(Order.objects.values_list("pk", flat=True)) == fresh
    assert not Order.objects.filter(pk__in=old).exists()
    assert Payment.objects.filter(order_id__in=fresh).count() == 4
