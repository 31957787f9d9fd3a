"""Races on real PostgreSQL transactions, many trials each.

Every trial builds a fresh authorized order, then starts threads that hit the
same rows at the same moment: each thread opens its own connection first, then
a barrier releases them all together, so they race on SQL, not on connecting.
What is checked are the money invariants: one shipment per order or line, one
capture request per parcel, one capture at the provider per key, one success
in the ledger, one e-mail. A trial's problems are collected and the test fails
at the end with how many trials went wrong and why.
"""

import random
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from orders.exceptions import InvalidOrderTransition, OrderError, ShipmentBlocked
from orders.models import OrderStatus, Shipment, ShipmentLine
from orders.services import order_ship
from payments.models import (
    CustomerEmail,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from payments.providers.sandbox.models import SandboxCapture
from payments.services import OperationOutcome, capture_key_for_shipment, payment_capture
from tests.factories import ProductVariantFactory
from tests.helpers import place_order, run_tasks

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
SHIP_TRIALS = 100
CAPTURE_TRIALS = 100
SPLIT_TRIALS = 50
SPLIT_CAPTURE_TRIALS = 20
# A thread still running after this long waits for a lock nobody releases.
JOIN_TIMEOUT = 60
CAPTURE_TASK = "payments.operations.engine.payment_operation_run_task"
EMAIL_TASK = "payments.emails.customer_email_send_task"


@dataclass
class Outcome:
    value: object = None
    error: BaseException | None = None

    def describe(self) -> str:
        if self.error is None:
            return f"returned {self.value!r}"
        return "raised " + "".join(traceback.format_exception(self.error)).strip()


class Problems(list):
    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            self.append(message)


def run_together(calls: list[Callable[[], object]]) -> list[Outcome]:
    """Run each call in its own thread, all released at once; their outcomes, in order."""
    barrier = threading.Barrier(len(calls))
    outcomes = [Outcome() for _ in calls]

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            # Connect first, so the threads race on SQL, not on opening connections.
            connection.ensure_connection()
            barrier.wait(timeout=JOIN_TIMEOUT)
            outcomes[index].value = call()
        except BaseException as error:
            outcomes[index].error = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    if stuck:
        # Stop at once: a stuck thread keeps its locks and would spoil the next trials.
        pytest.fail(
            f"threads {stuck} still running after {JOIN_TIMEOUT} s (a lock is never released)"
        )
    return outcomes


def run_trials(trial: Callable[[], list[str]], trials: int) -> None:
    failures = {}
    for number in range(1, trials + 1):
        problems = trial()
        if problems:
            failures[number] = problems
    if failures:
        report = [f"{len(failures)} of {trials} trials failed"]
        for number, problems in list(failures.items())[:3]:
            report.append(f"--- trial {number}:")
            report.extend(f"  {problem}" for problem in problems)
        pytest.fail("\n".join(report), pytrace=False)


def _unexpected(outcomes: list[Outcome], allowed: Callable[[BaseException], bool]) -> list[str]:
    return [
        f"thread {index} {outcome.describe()}"
        for index, outcome in enumerate(outcomes)
        if outcome.error is not None and not allowed(outcome.error)
    ]


def _capture_entries(order_id: int, event: str):
    return PaymentLedgerEntry.objects.filter(
        order_id=order_id, operation=LedgerOperation.CAPTURE, event=event
    )


def _tasks(task_path: str, **kwargs):
    lookups = {f"args_kwargs__kwargs__{name}": value for name, value in kwargs.items()}
    return DBTaskResult.objects.filter(task_path=task_path, **lookups)


# Shipping the same order from several places at once -------------------------


def ship_race_trial() -> list[str]:
    variant = ProductVariantFactory(stock=5)
    order = place_order({variant.pk: 2})
    payment = Payment.objects.get(order=order)

    outcomes = run_together([partial(order_ship, order_id=order.pk, carrier="colissimo")] * THREADS)

    problems = Problems()
    shipped = [outcome.value for outcome in outcomes if outcome.error is None]
    problems.expect(len(shipped) == 1, f"{len(shipped)} threads shipped, not 1")
    # OrderAlreadyShipped is an InvalidOrderTransition; ShipmentBlocked is not allowed.
    problems.extend(_unexpected(outcomes, lambda e: isinstance(e, InvalidOrderTransition)))
    shipments = list(Shipment.objects.filter(order=order))
    problems.expect(len(shipments) == 1, f"{len(shipments)} shipments, not 1")
    requested = list(_capture_entries(order.pk, LedgerEvent.REQUESTED))
    problems.expect(len(requested) == 1, f"{len(requested)} capture requests, not 1")
    if len(shipments) == 1 and len(requested) == 1:
        key = capture_key_for_shipment(shipments[0].pk, payment.pk)
        problems.expect(requested[0].idempotency_key == key, f"request key {requested[0]}")
        problems.expect(
            requested[0].amount == order.total_amount == shipments[0].amount,
            f"requested {requested[0].amount}, shipment {shipments[0].amount}, "
            f"total {order.total_amount}",
        )
        tasks = _tasks(CAPTURE_TASK, idempotency_key=key).count()
        problems.expect(tasks == 1, f"{tasks} capture tasks enqueued, not 1")
    order.refresh_from_db()
    problems.expect(order.status == OrderStatus.SHIPPED, f"order is {order.status}")
    return problems


def test_eight_threads_shipping_the_same_order_ship_it_once():
    run_trials(ship_race_trial, SHIP_TRIALS)


# Several workers running the same capture at once ------------------------------


def capture_race_trial() -> list[str]:
    variant = ProductVariantFactory(stock=5)
    order = place_order({variant.pk: 1})
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = Payment.objects.get(order=order)
    key = capture_key_for_shipment(shipment.pk, payment.pk)

    outcomes = run_together(
        [partial(payment_capture, payment_id=payment.pk, idempotency_key=key)] * THREADS
    )

    problems = Problems()
    problems.extend(_unexpected(outcomes, lambda e: False))
    results = Counter(outcome.value for outcome in outcomes if outcome.error is None)
    problems.expect(
        results == {OperationOutcome.SUCCEEDED: 1, OperationOutcome.ALREADY_DONE: THREADS - 1},
        f"outcomes {dict(results)}",
    )
    moved = SandboxCapture.objects.filter(charge_id=payment.provider_reference)
    problems.expect(moved.count() == 1, f"{moved.count()} captures at the provider, not 1")
    problems.expect(
        moved.filter(idempotency_key=key).count() == 1, "no provider capture under the key"
    )
    succeeded = _capture_entries(order.pk, LedgerEvent.SUCCEEDED).count()
    problems.expect(succeeded == 1, f"{succeeded} succeeded entries, not 1")
    failed = _capture_entries(order.pk, LedgerEvent.FAILED).count()
    problems.expect(failed == 0, f"{failed} failed entries")
    payment.refresh_from_db()
    problems.expect(
        payment.captured_amount == shipment.amount,
        f"captured {payment.captured_amount}, shipment {shipment.amount}",
    )
    problems.expect(payment.status == PaymentStatus.CAPTURED, f"payment is {payment.status}")
    problems.expect(not payment.needs_attention, f"needs attention: {payment.failure_message}")
    emails = list(CustomerEmail.objects.filter(order=order).exclude(kind=CustomerEmail.Kind.PLACED))
    problems.expect(len(emails) == 1, f"{len(emails)} customer e-mails, not 1")
    if len(emails) == 1:
        tasks = _tasks(EMAIL_TASK, email_id=emails[0].pk).count()
        problems.expect(tasks == 1, f"{tasks} e-mail tasks, not 1")
    return problems


def test_eight_workers_running_the_same_capture_capture_once():
    run_trials(capture_race_trial, CAPTURE_TRIALS)


# Split shipments: different lines of one order shipped at once -------------------


def _three_line_order():
    prices = (4900, 12900, 8950)
    variants = [ProductVariantFactory(product__price_amount=price, stock=5) for price in prices]
    order = place_order({variants[0].pk: 1, variants[1].pk: 2, variants[2].pk: 1})
    return order, list(order.lines.order_by("pk"))


def split_race_trial() -> list[str]:
    order, lines = _three_line_order()
    payment = Payment.objects.get(order=order)
    # Two threads per line: each line must ship once, whoever wins.
    calls = [
        partial(order_ship, order_id=order.pk, carrier="colissimo", lines={line.pk: line.quantity})
        for line in lines
        for _twice in range(2)
    ]
    random.shuffle(calls)

    outcomes = run_together(calls)

    problems = Problems()
    shipped = [outcome.value for outcome in outcomes if outcome.error is None]
    problems.expect(len(shipped) == len(lines), f"{len(shipped)} threads shipped, not 3")
    problems.extend(
        _unexpected(
            outcomes, lambda e: isinstance(e, OrderError) and not isinstance(e, ShipmentBlocked)
        )
    )
    for line in lines:
        parts = ShipmentLine.objects.filter(order_line=line)
        quantity = parts.aggregate(total=Sum("quantity"))["total"]
        problems.expect(
            parts.count() == 1 and quantity == line.quantity,
            f"line {line.pk} shipped {parts.count()} times, {quantity} of {line.quantity}",
        )
    shipments = list(order.shipments.order_by("pk"))
    amounts = [shipment.amount for shipment in shipments]
    problems.expect(len(shipments) == len(lines), f"{len(shipments)} shipments, not 3")
    problems.expect(
        sum(amounts) == order.total_amount, f"parcels {amounts} vs total {order.total_amount}"
    )
    problems.expect(
        [shipment.is_final for shipment in shipments] == [False] * (len(shipments) - 1) + [True],
        "only the last parcel is final",
    )
    order.refresh_from_db()
    problems.expect(order.status == OrderStatus.SHIPPED, f"order is {order.status}")
    requested = {
        entry.shipment_id: entry.amount
        for entry in _capture_entries(order.pk, LedgerEvent.REQUESTED)
    }
    problems.expect(
        requested == {shipment.pk: shipment.amount for shipment in shipments},
        f"capture requests {requested} vs parcels {amounts}",
    )

    run_tasks()

    payment.refresh_from_db()
    moved = SandboxCapture.objects.filter(charge_id=payment.provider_reference)
    problems.expect(
        moved.count() == len(shipments),
        f"{moved.count()} captures at the provider for {len(shipments)} parcels",
    )
    problems.expect(
        payment.captured_amount == sum(amounts),
        f"captured {payment.captured_amount}, parcels {sum(amounts)}",
    )
    problems.expect(payment.status == PaymentStatus.CAPTURED, f"payment is {payment.status}")
    succeeded = _capture_entries(order.pk, LedgerEvent.SUCCEEDED).count()
    problems.expect(succeeded == len(shipments), f"{succeeded} succeeded entries")
    emails = CustomerEmail.objects.filter(order=order).exclude(kind=CustomerEmail.Kind.PLACED)
    problems.expect(
        emails.count() == len(shipments) and not emails.filter(sent_at__isnull=True).exists(),
        f"{emails.count()} e-mails ({emails.filter(sent_at__isnull=True).count()} unsent)",
    )
    return problems


def test_threads_shipping_different_lines_ship_each_line_once_and_capture_the_total():
    run_trials(split_race_trial, SPLIT_TRIALS)


# Split shipments: several workers capturing different parcels at once -------------


def split_capture_race_trial() -> list[str]:
    """The parcels shipped one after the other; their captures run on parallel workers."""
    order, lines = _three_line_order()
    for line in lines:
        order_ship(order_id=order.pk, carrier="colissimo", lines={line.pk: line.quantity})
    payment = Payment.objects.get(order=order)
    shipments = list(order.shipments.order_by("pk"))
    keys = [capture_key_for_shipment(shipment.pk, payment.pk) for shipment in shipments]

    outcomes = run_together(
        [partial(payment_capture, payment_id=payment.pk, idempotency_key=key) for key in keys]
    )

    problems = Problems()
    problems.extend(_unexpected(outcomes, lambda e: False))
    results = [outcome.value for outcome in outcomes if outcome.error is None]
    # The last parcel's capture closes the authorization, so it waits for the
    # others (deferred); the worker runs it once they are through.
    problems.expect(
        set(results) <= {OperationOutcome.SUCCEEDED, OperationOutcome.DEFERRED},
        f"outcomes {[str(r) for r in results]}",
    )
    for _round in range(3):
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
        run_tasks()
    payment.refresh_from_db()
    moved = SandboxCapture.objects.filter(charge_id=payment.provider_reference)
    problems.expect(
        moved.count() == len(shipments),
        f"{moved.count()} captures at the provider for {len(shipments)} parcels",
    )
    problems.expect(
        payment.captured_amount == order.total_amount,
        f"captured {payment.captured_amount} of {order.total_amount} "
        f"(the provider moved {sum(moved.values_list('amount', flat=True))})",
    )
    failed = list(
        _capture_entries(order.pk, LedgerEvent.FAILED).values_list("error_code", flat=True)
    )
    problems.expect(not failed, f"failed capture entries: {failed}")
    problems.expect(payment.status == PaymentStatus.CAPTURED, f"payment is {payment.status}")
    problems.expect(not payment.needs_attention, f"needs attention: {payment.failure_message}")
    emails = (
        CustomerEmail.objects.filter(order=order).exclude(kind=CustomerEmail.Kind.PLACED).count()
    )
    problems.expect(emails == len(shipments), f"{emails} customer e-mails")
    return problems


def test_parallel_workers_capturing_different_parcels_capture_them_all():
    run_trials(split_capture_race_trial, SPLIT_CAPTURE_TRIALS)
