"""The reconciliation with both providers, with the planted differences of issue 14:
a capture made outside the shop, a refund in the Dashboard, a ledger entry the
provider never saw, an amount off by one cent."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from orders.services import order_ship
from payments.models import (
    LedgerEvent,
    LedgerOperation,
    Payment,
    ReconciliationItem,
    ReconciliationRun,
)
from payments.operations import ledger
from payments.operations.reconciliation import payment_reconcile, reconciliation_daily_task
from payments.providers.sandbox import gateway
from payments.providers.sandbox.models import SandboxCapture
from payments.providers.stripe import listing
from payments.services import payment_request_refund
from tests.factories import ProductVariantFactory
from tests.helpers import place_order, stripe_order

pytestmark = pytest.mark.django_db
Outcome = ReconciliationItem.Outcome


def reconcile() -> ReconciliationRun:
    now = timezone.now()
    return payment_reconcile(since=now - timedelta(hours=1), until=now + timedelta(hours=1))


def outcomes(run) -> list[tuple[str, str, str]]:
    return sorted(
        (item.outcome, item.operation, item.order.number if item.order else "")
        for item in run.items.select_related("order")
    )


def shipped(order, run_tasks):
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    return Payment.objects.get(order=order)


def plant_ghost_refund(payment: Payment) -> None:
    """A ledger entry the provider never saw."""
    ledger.record(
        payment,
        operation=LedgerOperation.REFUND,
        event=LedgerEvent.SUCCEEDED,
        amount=300,
        idempotency_key="refund-never-sent",
    )


def test_sandbox_everything_the_shop_did_matches(run_tasks):
    order = place_order({ProductVariantFactory(product__price_amount=5000).pk: 2})
    payment = shipped(order, run_tasks)
    payment_request_refund(payment_id=payment.pk, amount=1000, request_token="t-1")
    run_tasks()

    run = reconcile()

    assert (run.matched, run.mismatched, run.error) == (2, 0, "")
    assert {i.operation for i in run.items.all()} == {"capture", "refund"}
    payment.refresh_from_db()
    assert not payment.needs_attention


def test_sandbox_planted_differences_are_each_found_and_flag_their_payment(run_tasks):
    paid = place_order({ProductVariantFactory(product__price_amount=5000).pk: 1})
    paid_payment = shipped(paid, run_tasks)
    held = place_order({ProductVariantFactory(product__price_amount=7000).pk: 1})
    held_payment = Payment.objects.get(order=held)
    # A capture made outside the shop, a refund in the provider's dashboard.
    gateway.capture(
        charge_id=held_payment.provider_reference,
        amount=1500,
        currency="EUR",
        final=False,
        idempotency_key="dashboard-capture-1",
    )
    gateway.refund(
        charge_id=paid_payment.provider_reference,
        amount=500,
        currency="EUR",
        idempotency_key="dashboard-refund-1",
    )
    plant_ghost_refund(paid_payment)
    # The provider says one cent more than the shop for the shop's capture.
    capture = SandboxCapture.objects.get(kind="capture", charge_id=paid_payment.provider_reference)
    SandboxCapture.objects.filter(pk=capture.pk).update(amount=capture.amount + 1)

    run = reconcile()

    assert outcomes(run) == sorted(
        [
            (Outcome.AMOUNT_DIFFERS, "capture", paid.number),
            (Outcome.MISSING_AT_SHOP, "capture", held.number),
            (Outcome.MISSING_AT_SHOP, "refund", paid.number),
            (Outcome.MISSING_AT_PROVIDER, "refund", paid.number),
        ]
    )
    assert (run.matched, run.mismatched) == (0, 4)
    assert set(Payment.objects.filter(needs_attention=True)) == {paid_payment, held_payment}


def test_stripe_planted_differences_are_each_found(stripe_fake, run_tasks, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 1)  # every list takes several pages
    variant = ProductVariantFactory(product__price_amount=5000, stock=20)
    matched = stripe_order(stripe_fake, {variant.pk: 1})
    shipped(matched, run_tasks)
    refunded = stripe_order(stripe_fake, {variant.pk: 1})
    refunded_payment = shipped(refunded, run_tasks)
    outside = stripe_order(stripe_fake, {variant.pk: 1})
    off = stripe_order(stripe_fake, {variant.pk: 1})
    off_payment = shipped(off, run_tasks)

    stripe_fake.capture_outside(Payment.objects.get(order=outside).provider_reference, 2000)
    stripe_fake.refund_outside(refunded_payment.provider_reference, 700)
    plant_ghost_refund(refunded_payment)
    ledger.record(
        off_payment,
        operation=LedgerOperation.CAPTURE,
        event=LedgerEvent.SUCCEEDED,
        amount=1,
        idempotency_key="capture-one-cent-more",
    )

    run = reconcile()

    assert run.error == ""
    assert outcomes(run) == sorted(
        [
            (Outcome.MATCHED, "capture", matched.number),
            (Outcome.MATCHED, "capture", refunded.number),
            (Outcome.MISSING_AT_SHOP, "capture", outside.number),
            (Outcome.AMOUNT_DIFFERS, "capture", off.number),
            (Outcome.MISSING_AT_SHOP, "refund", refunded.number),
            (Outcome.MISSING_AT_PROVIDER, "refund", refunded.number),
        ]
    )
    pages = [r for r in stripe_fake.requests if "starting_after" in r.params]
    assert pages  # the library's auto-pagination fetched the next pages


def test_a_provider_outage_is_recorded_on_the_run(stripe_fake):
    stripe_fake.fail_next("429", path_contains="/v1/payment_intents", method="GET")
    run = reconcile()
    assert run.error
    assert not run.items.exists()


def test_the_daily_run_reconciles_yesterday_and_schedules_tomorrow(run_tasks):
    reconciliation_daily_task.enqueue(reschedule=False)
    run_tasks()
    run = ReconciliationRun.objects.get()
    assert run.period_end - run.period_start == timedelta(days=1)
    assert run.period_end <= timezone.now()


def test_finance_queues_a_run_reads_the_results_and_exports_csv(client, run_tasks):
    paid = place_order({ProductVariantFactory(product__price_amount=5000).pk: 1})
    plant_ghost_refund(shipped(paid, run_tasks))
    user = get_user_model().objects.create_user("fin", "f@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Finance"))
    client.force_login(user)
    today = timezone.localdate()
    url = reverse("admin:payments_reconciliationrun_reconcile")
    bad = client.post(url, {"since": "demain", "until": "31/02/2026"})
    assert bad.status_code == 200 and bad.context["form"].errors
    client.post(url, {"since": today.strftime("%d/%m/%Y"), "until": today.strftime("%d/%m/%Y")})
    run_tasks()
    run = ReconciliationRun.objects.get()
    assert run.mismatched == 1

    items = client.get(reverse("admin:payments_reconciliationitem_changelist") + "?mismatch=yes")
    assert paid.number in items.content.decode()
    export = client.post(
        reverse("admin:payments_reconciliationrun_changelist"),
        {"action": "export_csv", "_selected_action": [run.pk]},
    )
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert any(paid.number in row and "refund-never-sent" in row for row in rows)


def test_warehouse_cannot_reconcile(client):
    user = get_user_model().objects.create_user("wh", "w@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Warehouse"))
    client.force_login(user)
    url = reverse("admin:payments_reconciliationrun_reconcile")
    assert client.post(url, {"since": "01/12/2026", "until": "01/12/2026"}).status_code == 403
    assert client.get(reverse("admin:payments_reconciliationrun_changelist")).status_code == 403
