"""Declined checkouts do not grow the tables without bound: they are purged after a window,
and nothing that ever held or moved money is."""

import contextlib
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from orders.models import Order, OrderLine, OrderStatus
from orders.services import order_cancel, order_ship
from payments.exceptions import PaymentError
from payments.models import (
    AppendOnlyError,
    CardSession,
    CustomerEmail,
    LedgerEvent,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
    ProviderEvent,
)
from payments.services import payment_watch_authorizations
from shop.checkout.services import PaymentChoice, checkout_place_order
from shop.models import BlockedCheckoutAttempt
from shop.retention import retention_purge_declined
from tests.factories import ProductVariantFactory
from tests.helpers import DECLINED, card_token, customer, place_order
from tests.test_settings import manage
from worker.models import PeriodicTask
from worker.periodic import periodic_dispatch

pytestmark = pytest.mark.django_db

THREE_DS = "4000002760003184"
REVIEW = "4000000000009235"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def variant():
    return ProductVariantFactory(stock=1000)


def counts() -> dict[str, int]:
    return {
        "orders": Order.objects.count(),
        "order_lines": OrderLine.objects.count(),
        "payments": Payment.objects.count(),
        "ledger_entries": PaymentLedgerEntry.objects.count(),
        "card_sessions": CardSession.objects.count(),
        "customer_emails": CustomerEmail.objects.count(),
        "blocked_attempts": BlockedCheckoutAttempt.objects.count(),
    }


def attempt(variant, number: str) -> Order:
    """A checkout through the service, as the card page and Place order make it."""
    checkout_token = uuid.uuid4()
    token, card = card_token(number, reference=str(checkout_token))
    with contextlib.suppress(PaymentError):
        checkout_place_order(
            checkout_token=checkout_token,
            quantities={variant.pk: 1},
            customer=customer(),
            shipping_method="standard",
            language="fr",
            payment=PaymentChoice(method="card", payment_token=token, card=card),
        )
    return Order.objects.get(checkout_token=checkout_token)


def later(days: int = 31):
    return timezone.now() + timedelta(days=days)


def abandoned(variant, run_tasks) -> Order:
    """Left at the bank's 3-D Secure page: failed after the hold, cancelled at the provider."""
    order = attempt(variant, THREE_DS)
    payment_watch_authorizations(now=timezone.now() + timedelta(hours=1))
    run_tasks()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_FAILED
    assert PaymentLedgerEntry.objects.filter(order=order, event=LedgerEvent.SUCCEEDED).exists()
    return order


def test_a_declined_checkout_goes_with_all_its_rows_after_the_window(variant):
    before = counts()
    order = attempt(variant, DECLINED)
    assert order.status == OrderStatus.PAYMENT_FAILED
    added = {name: counts()[name] - before[name] for name in before}
    assert added["orders"] == added["payments"] == added["card_sessions"] == 1
    assert added["ledger_entries"] == 2  # authorization attempted, failed

    report = retention_purge_declined(now=later())

    assert counts() == before
    assert {k: v for k, v in report.as_dict().items() if v} == {
        "orders": 1,
        "order_lines": 1,
        "payments": 1,
        "ledger_entries": 2,
        "card_sessions": 1,
    }
    variant.refresh_from_db()
    assert variant.stock == 1000  # given back at the decline, untouched by the purge


def test_money_ever_held_or_moved_is_never_purged(variant, run_tasks):
    voided = place_order({variant.pk: 1})
    order_cancel(order_id=voided.pk)
    captured = place_order({variant.pk: 1})
    order_ship(order_id=captured.pk, carrier="colissimo")
    in_review = place_order({variant.pk: 1}, number=REVIEW)
    run_tasks()
    assert Payment.objects.get(order=voided).status == PaymentStatus.VOIDED
    assert Payment.objects.get(order=captured).status == PaymentStatus.CAPTURED
    assert in_review.status == OrderStatus.IN_REVIEW
    declined = attempt(variant, DECLINED)
    CardSession.objects.all().delete()  # expired ones go anyway: count the rest
    before = counts()

    report = retention_purge_declined(now=later(400))

    assert not Order.objects.filter(pk=declined.pk).exists()
    assert set(Order.objects.values_list("pk", flat=True)) == {voided.pk, captured.pk, in_review.pk}
    assert report.declined.orders == 1
    after = counts()
    assert before["ledger_entries"] - after["ledger_entries"] == 2
    kept = PaymentLedgerEntry.objects.filter(order__in=[voided, captured, in_review])
    assert kept.count() == after["ledger_entries"] > 0


def test_the_ledger_refuses_to_purge_entries_that_show_money(variant):
    captured = place_order({variant.pk: 1})
    declined = attempt(variant, DECLINED)
    entries = PaymentLedgerEntry.objects.filter(order__in=[captured, declined])
    total = entries.count()
    with pytest.raises(AppendOnlyError):
        entries.retention_delete()
    with pytest.raises(AppendOnlyError):
        PaymentLedgerEntry.objects.filter(order=declined).delete()
    assert PaymentLedgerEntry.objects.count() == total


def test_only_the_retention_purge_deletes_ledger_entries():
    callers = [
        str(path.relative_to(ROOT))
        for package in ("shop", "orders", "payments", "worker")
        for path in (ROOT / package).rglob("*.py")
        if ".retention_delete(" in path.read_text()
    ]
    assert callers == ["payments/operations/retention.py"]


def test_an_abandoned_authentication_that_released_nothing_is_purged(variant, run_tasks):
    before = counts()
    abandoned(variant, run_tasks)
    report = retention_purge_declined(now=later())
    assert report.declined.orders == 1
    assert {k: v for k, v in counts().items() if k != "card_sessions"} == {
        k: v for k, v in before.items() if k != "card_sessions"
    }


def test_a_void_that_released_money_keeps_the_order(variant, run_tasks):
    order = abandoned(variant, run_tasks)
    payment = Payment.objects.get(order=order)
    # As if the provider had held the amount after all and released it.
    PaymentLedgerEntry.objects.create(
        payment=payment,
        order=order,
        operation="void",
        event=LedgerEvent.SUCCEEDED,
        amount=1000,
        currency="EUR",
        idempotency_key="void-released-for-real",
    )
    assert retention_purge_declined(now=later()).declined.orders == 0
    assert Order.objects.filter(pk=order.pk).exists()


def test_the_window_is_respected_and_a_second_run_finds_nothing(variant, settings):
    settings.DECLINED_ORDER_RETENTION_DAYS = 10
    order = attempt(variant, DECLINED)
    assert retention_purge_declined(now=later(9)).declined.orders == 0
    assert retention_purge_declined(now=later(11), days=12).declined.orders == 0
    assert Order.objects.filter(pk=order.pk).exists()
    assert retention_purge_declined(now=later(11)).declined.orders == 1
    again = retention_purge_declined(now=later(11))
    assert set(again.as_dict().values()) == {0}


def test_what_is_still_on_its_way_keeps_the_order(variant, run_tasks):
    unsent = attempt(variant, DECLINED)
    CustomerEmail.objects.create(key="link-1", kind="order_link", order=unsent, to="a@example.com")
    evented = attempt(variant, DECLINED)
    payment = Payment.objects.get(order=evented)
    ProviderEvent.objects.create(
        provider="stripe",
        event_id="evt_1",
        type="payment_intent.payment_failed",
        # Before the reference was stored: found by the operation it carries.
        payload={
            "data": {
                "object": {
                    "object": "payment_intent",
                    "id": "pi_late",
                    "metadata": {"operation": f"authorize-payment-{payment.pk}"},
                }
            }
        },
    )
    pending_void = attempt(variant, THREE_DS)
    payment_watch_authorizations(now=timezone.now() + timedelta(hours=1))  # void requested
    assert retention_purge_declined(now=later()).declined.orders == 0

    CustomerEmail.objects.update(sent_at=timezone.now())
    ProviderEvent.objects.update(processed_at=timezone.now())
    run_tasks()  # the void is done
    assert retention_purge_declined(now=later()).declined.orders == 3
    assert not Order.objects.filter(pk__in=[unsent.pk, evented.pk, pending_void.pk]).exists()


def test_a_burst_of_declines_is_back_to_the_baseline_after_the_window(variant, run_tasks):
    place_order({variant.pk: 1})
    run_tasks()
    CardSession.objects.all().delete()
    baseline = counts()
    for _ in range(12):
        attempt(variant, DECLINED)
    BlockedCheckoutAttempt.objects.create(ip_address="10.0.0.1", email="x@example.com", limit="ip")
    grown = counts()
    assert grown["orders"] == baseline["orders"] + 12
    assert grown["ledger_entries"] == baseline["ledger_entries"] + 24

    report = retention_purge_declined(now=later(), batch_size=5)  # three batches

    assert counts() == baseline
    assert report.declined.orders == 12 and report.blocked_attempts == 1


def test_a_dry_run_counts_and_changes_nothing(variant):
    attempt(variant, DECLINED)
    before = counts()
    out = StringIO()
    call_command("purge_declined", "--dry-run", "--days", "1", stdout=out)
    assert counts() == before
    assert "Would purge" in out.getvalue() and "orders: 0" in out.getvalue()
    Order.objects.update(created_at=timezone.now() - timedelta(days=2))
    call_command("purge_declined", "--dry-run", "--days", "1", stdout=out)
    assert "orders: 1" in out.getvalue() and counts() == before
    call_command("purge_declined", "--days", "1", stdout=out)
    assert counts()["orders"] == before["orders"] - 1


@pytest.mark.parametrize(
    "arguments",
    [
        ["--days", "abc"],
        ["--days", "0"],
        ["--days", "-3"],
        ["--days", "²"],
        ["--days", "99999999999999999999"],
        ["--days", "1\x00"],
        ["--batch-size", "0"],
        ["--batch-size", "1e3"],
    ],
)
def test_the_command_refuses_bad_input_with_a_message(variant, arguments):
    attempt(variant, DECLINED)
    Order.objects.update(created_at=timezone.now() - timedelta(days=400))
    before = counts()
    with pytest.raises(CommandError, match="must be a whole number"):
        call_command("purge_declined", *arguments, stdout=StringIO())
    assert counts() == before


def test_the_daily_job_is_scheduled_and_runs_through_the_worker(variant, run_tasks):
    assert settings.TASK_PERIODIC["retention-daily"] == {
        "call": "shop.retention.retention_purge_run",
        "every": 24 * 60 * 60,
    }
    attempt(variant, DECLINED)
    Order.objects.update(created_at=timezone.now() - timedelta(days=31))

    assert "retention-daily" in periodic_dispatch()
    run_tasks()

    assert not Order.objects.exists()
    job = PeriodicTask.objects.get(name="retention-daily")
    assert job.last_finished_at is not None and job.last_error == ""
    assert "orders 1" in job.last_result
    assert "retention-daily" not in periodic_dispatch(timezone.now() + timedelta(hours=23))
    assert "retention-daily" in periodic_dispatch(timezone.now() + timedelta(hours=25))


def test_finished_task_results_go_after_their_window_and_live_tasks_stay(run_tasks, settings):
    settings.TASK_RESULT_RETENTION_DAYS = 10
    periodic_dispatch()
    run_tasks()  # the periodic jobs ran: finished rows
    DBTaskResult.objects.filter(pk=DBTaskResult.objects.first().pk).update(
        status=TaskResultStatus.FAILED
    )
    finished = set(DBTaskResult.objects.finished().values_list("pk", flat=True))
    assert len(finished) == len(settings.TASK_PERIODIC)
    periodic_dispatch(timezone.now() + timedelta(days=2))  # due again: queued, not run
    live = set(DBTaskResult.objects.exclude(pk__in=finished).values_list("pk", flat=True))
    assert live
    running = next(iter(live))
    DBTaskResult.objects.filter(pk=running).update(status=TaskResultStatus.RUNNING)
    # Everything is old now, live rows included: only finished rows may go.
    DBTaskResult.objects.update(finished_at=timezone.now() - timedelta(days=11))
    DBTaskResult.objects.filter(pk=running).update(finished_at=None)

    young = retention_purge_declined(now=timezone.now() - timedelta(days=2))
    dry = retention_purge_declined(dry_run=True)
    assert (young.finished_tasks, dry.finished_tasks) == (0, len(finished))
    assert DBTaskResult.objects.count() == len(finished) + len(live)

    report = retention_purge_declined()

    assert report.finished_tasks == len(finished)
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == live
    assert f"finished_tasks {len(finished)}" in str(report)


@pytest.mark.parametrize("name", ["DECLINED_ORDER_RETENTION_DAYS", "TASK_RESULT_RETENTION_DAYS"])
@pytest.mark.parametrize("value", ["0", "abc", "4000"])
def test_a_bad_retention_setting_is_refused_at_startup(name, value):
    result = manage("check", **{name: value})
    assert result.returncode != 0
    assert f"{name} must be a whole number of days" in result.stderr


def test_the_privacy_page_says_how_long_declined_orders_are_kept(client, settings):
    settings.DECLINED_ORDER_RETENTION_DAYS = 45
    page = client.get("/legal/privacy/").content.decode()
    assert "au bout de 45 jours" in page
    page = client.get("/en/legal/privacy/").content.decode()
    assert "deleted after 45 days" in page
