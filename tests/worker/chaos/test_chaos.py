"""Chaos: real workers killed (SIGKILL) at random, on PostgreSQL, with a real SMTP server.

Every test writes with ``transaction=True`` so the worker processes see the
data. Workers run with a 1 s heartbeat and count as dead after 3 s (the
production defaults are 5 s and 30 s: the same mechanism, quicker).
"""

import random
import signal
import subprocess
import time

import pytest
from django.db.models import Count
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from orders.services import order_ship
from payments.models import CustomerEmail, LedgerEvent, LedgerOperation, Payment, PaymentLedgerEntry
from payments.providers.sandbox.models import SandboxCapture
from tests.factories import ProductVariantFactory
from tests.helpers import place_order
from tests.worker.chaos.processes import CountingSMTP, start, worker_env
from worker.models import PeriodicTask, WorkerProcess

ORDERS = 100
EMAILS = 2 * ORDERS  # one when the order is placed, one when it is debited
KILLS = 20
RECOVERY_WINDOW = 120  # seconds, after the last kill
FAST_RECOVERY = {
    "TASK_WORKER_HEARTBEAT_SECONDS": 1,
    "TASK_WORKER_DEAD_AFTER_SECONDS": 3,
    "CUSTOMER_EMAIL_CLAIM_SECONDS": 5,
}


def _stop(process: subprocess.Popen) -> int:
    """SIGTERM: the worker finishes the tasks in hand and exits 0.

    Sent once the worker is up: it sets its signal handlers before it registers,
    and one restarted a moment ago may still be loading Django (where SIGTERM
    simply ends the process, which has claimed nothing yet).
    """
    _wait_until(
        lambda: (
            process.poll() is not None
            or WorkerProcess.objects.filter(pid=process.pid, stopped_at__isnull=True).exists()
        ),
        60,
    )
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def _wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


@pytest.mark.django_db(transaction=True)
def test_captures_and_emails_survive_twenty_kills_of_two_workers():
    variant = ProductVariantFactory(product__price_amount=2500, stock=ORDERS)
    orders = [place_order({variant.pk: 1}) for _ in range(ORDERS)]
    for order in orders:
        order_ship(order_id=order.pk, carrier="colissimo")
    rng = random.Random(11)

    with CountingSMTP() as smtp:
        env = worker_env(
            EMAIL_URL=smtp.url, SANDBOX_LATENCY_MS=40, TASK_WORKER_THREADS=4, **FAST_RECOVERY
        )
        workers = [start(["manage.py", "worker"], env) for _ in range(2)]
        kills = 0
        try:
            while kills < KILLS:
                time.sleep(rng.uniform(0.2, 0.8))
                victim = rng.randrange(len(workers))
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                kills += 1
                workers[victim] = start(["manage.py", "worker"], env)

            def all_done() -> bool:
                return (
                    CustomerEmail.objects.filter(sent_at__isnull=False).count() == EMAILS
                    and not DBTaskResult.objects.filter(
                        status__in=[TaskResultStatus.RUNNING, TaskResultStatus.READY],
                        task_path__startswith="payments.",
                    ).exists()
                )

            recovered = _wait_until(all_done, RECOVERY_WINDOW)
        finally:
            exits = [_stop(worker) for worker in workers]
        counts = smtp.by_key()
        message_ids = {key: smtp.message_ids(key) for key in counts}

    assert kills >= KILLS
    assert recovered, "not every capture and e-mail was done within the recovery window"
    assert exits == [0, 0]  # SIGTERM: a clean stop
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).exists()
    # Money: each order captured exactly once at the provider and in the ledger.
    payments = Payment.objects.filter(order__in=orders)
    assert all(p.captured_amount == p.order.total_amount for p in payments.select_related("order"))
    per_charge = SandboxCapture.objects.values("charge_id").annotate(n=Count("pk"))
    assert sorted(row["n"] for row in per_charge) == [1] * ORDERS
    succeeded = PaymentLedgerEntry.objects.filter(
        operation=LedgerOperation.CAPTURE, event=LedgerEvent.SUCCEEDED
    )
    assert succeeded.values("idempotency_key").distinct().count() == succeeded.count() == ORDERS
    # E-mails: every e-mail (placed, debited) arrived at the SMTP server, exactly once.
    keys = set(CustomerEmail.objects.values_list("key", flat=True))
    assert len(keys) == EMAILS and set(counts) == keys
    assert all(len(ids) == 1 for ids in message_ids.values())  # one Message-ID per e-mail
    # Exactly once as far as SMTP allows: a worker killed after the server accepted a
    # message but before ``sent_at`` was written sends it again once its claim lapses,
    # with the same Message-ID, so the receiving side recognises the copy. Only such a
    # kill can cause one: never more copies than kills, never a lost e-mail.
    resent = {key: n for key, n in counts.items() if n != 1}
    assert all(n >= 1 for n in counts.values())
    assert sum(n - 1 for n in resent.values()) <= KILLS, resent


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_during_the_check_does_not_stop_the_next_checks():
    env = worker_env(
        PAYMENTS_CHECK_INTERVAL_SECONDS=6, SLOW_CHECK_SECONDS=4, EMAIL_URL="", **FAST_RECOVERY
    )
    slow = start(["-m", "tests.worker.chaos.slow_check_worker"], env)
    try:
        running = _wait_until(
            lambda: (
                PeriodicTask.objects.filter(name="payments-check")
                .exclude(running_task_id="")
                .exists()
            ),
            60,
        )
        assert running, "the worker never started the check"
        killed_run = PeriodicTask.objects.get(name="payments-check").running_task_id
        slow.send_signal(signal.SIGKILL)
        slow.wait()
        killed_at = time.monotonic()
        assert PeriodicTask.objects.get(name="payments-check").last_finished_at is None

        survivor = start(["manage.py", "worker"], worker_env(**env))
        try:
            # The killed run is taken back and finished, then the schedule goes on.
            finished = _wait_until(
                lambda: DBTaskResult.objects.filter(
                    pk=killed_run, status=TaskResultStatus.SUCCESSFUL
                ).exists(),
                60,
            )
            later_runs = _wait_until(
                lambda: (
                    DBTaskResult.objects.filter(
                        task_path="worker.periodic.periodic_run_task",
                        status=TaskResultStatus.SUCCESSFUL,
                    ).count()
                    >= 3
                ),
                60,
            )
            elapsed = time.monotonic() - killed_at
        finally:
            assert _stop(survivor) == 0
    finally:
        if slow.poll() is None:
            slow.kill()
    assert finished, "the check the killed worker was running never finished"
    assert later_runs, "the next checks did not happen"
    assert elapsed < 60
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).exists()
    job = PeriodicTask.objects.get(name="payments-check")
    assert job.running_task_id == "" and job.last_error == ""
