"""Crash faults: a real worker process is killed around the provider call, then recovered.

The worker runs as ``manage.py db_worker`` in a subprocess against this test's
database (``transaction=True``: everything the test writes is committed, so
the subprocess sees it). With a fault, the worker is ``faulty_worker``, which
SIGKILLs its own process around the sandbox's capture (the hook lives in the
tests, not in the gateway). Recovery is what
production does: the periodic watch re-enqueues the operation that had no
news, and a worker runs it again with the same idempotency key.
"""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from orders.services import order_ship
from payments.exceptions import ProviderUnavailable
from payments.models import CustomerEmail, LedgerEvent, LedgerOperation, Payment, PaymentLedgerEntry
from payments.providers.sandbox.models import SandboxCapture
from payments.providers.sandbox.provider import SandboxProvider
from payments.services import capture_key_for_shipment, payment_watch_authorizations
from tests.factories import ProductVariantFactory
from tests.helpers import place_order, run_tasks, send_placed_emails

ROOT = Path(__file__).resolve().parents[3]
CAPTURE_TASK = "payments.operations.engine.payment_operation_run_task"


def _test_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's ``test_<name>``)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{quote(db['NAME'], safe='')}"


def run_worker(fault: str | None = None) -> subprocess.CompletedProcess:
    """Run ``db_worker --batch`` in a new process until the queue is empty (or it is killed)."""
    env = {k: v for k, v in os.environ.items() if k != "EMAIL_URL"}
    env["DATABASE_URL"] = _test_database_url()
    worker = ["manage.py", "db_worker", "--batch", "--no-startup-delay", "--no-reload"]
    if fault:
        worker = ["-m", "tests.payments.concurrency.faulty_worker", fault]
    return subprocess.run(
        [sys.executable, *worker],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _output(process: subprocess.CompletedProcess) -> str:
    return f"exit {process.returncode}\nstdout:\n{process.stdout}\nstderr:\n{process.stderr}"


def _capture_entries(key: str, event: str):
    return PaymentLedgerEntry.objects.filter(
        idempotency_key=key, operation=LedgerOperation.CAPTURE, event=event
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fault", "captured_before_the_crash"),
    [("kill_after_capture", 1), ("kill_before_capture", 0)],
    ids=["killed-after-the-provider-captured", "killed-before-the-provider-was-called"],
)
def test_a_worker_killed_during_a_capture_is_recovered_with_one_capture_and_one_email(
    fault, captured_before_the_crash
):
    variant = ProductVariantFactory(product__price_amount=12900, stock=3)
    order = place_order({variant.pk: 2})
    send_placed_emails()
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = Payment.objects.get(order=order)
    key = capture_key_for_shipment(shipment.pk, payment.pk)
    task = DBTaskResult.objects.get(task_path=CAPTURE_TASK)

    crashed = run_worker(fault=fault)

    assert crashed.returncode == -signal.SIGKILL, _output(crashed)
    moved = SandboxCapture.objects.filter(charge_id=payment.provider_reference)
    assert moved.count() == captured_before_the_crash
    assert _capture_entries(key, LedgerEvent.ATTEMPTED).count() == 1
    assert not _capture_entries(key, LedgerEvent.SUCCEEDED).exists()
    task.refresh_from_db()
    assert task.status == TaskResultStatus.RUNNING  # nobody will finish it
    payment.refresh_from_db()
    assert payment.captured_amount == 0
    assert not CustomerEmail.objects.exclude(kind=CustomerEmail.Kind.PLACED).exists()
    # While the operation is recent, the watch leaves it to its (maybe slow) worker.
    assert payment_watch_authorizations().requeued == []

    later = timezone.now() + timedelta(minutes=settings.PAYMENTS_STALE_OPERATION_MINUTES + 1)
    assert payment_watch_authorizations(now=later).requeued == [key]
    recovered = run_worker()

    assert recovered.returncode == 0, _output(recovered)
    assert moved.count() == 1
    assert moved.get().idempotency_key == key
    assert moved.get().amount == order.total_amount
    assert _capture_entries(key, LedgerEvent.SUCCEEDED).count() == 1
    assert not _capture_entries(key, LedgerEvent.FAILED).exists()
    payment.refresh_from_db()
    assert payment.captured_amount == order.total_amount
    assert payment.status == "captured"
    assert not payment.needs_attention
    email = CustomerEmail.objects.get(kind=CustomerEmail.Kind.CAPTURED)
    assert email.sent_at is not None
    assert not DBTaskResult.objects.ready().exists()
    assert not DBTaskResult.objects.failed().exists()


@pytest.mark.django_db(transaction=True)
def test_a_parcel_capture_retried_after_the_last_parcel_was_captured_is_not_lost():
    """One worker; the first parcel's capture meets an outage and waits for its retry.

    Meanwhile the other parcels ship and the last one is captured, as final.
    When the retry comes, the first parcel must still be captured.
    """
    variants = [ProductVariantFactory(product__price_amount=p, stock=5) for p in (4900, 12900)]
    order = place_order({variants[0].pk: 1, variants[1].pk: 1})
    first_line, last_line = order.lines.order_by("pk")
    payment = Payment.objects.get(order=order)

    order_ship(order_id=order.pk, carrier="colissimo", lines={first_line.pk: 1})
    with mock.patch.object(SandboxProvider, "capture", side_effect=ProviderUnavailable("503")):
        run_tasks()  # attempt 1: the provider does not answer; attempt 2 in 30 s
    order_ship(order_id=order.pk, carrier="colissimo", lines={last_line.pk: 1})
    run_tasks()  # the last parcel is captured at once
    # 30 s later: the retry is due.
    DBTaskResult.objects.filter(status=TaskResultStatus.READY).update(run_after=timezone.now())
    run_tasks()  # the first parcel's retry

    payment.refresh_from_db()
    failed = list(
        PaymentLedgerEntry.objects.filter(payment=payment, event=LedgerEvent.FAILED).values_list(
            "idempotency_key", "error_code", "message"
        )
    )
    assert failed == []
    assert SandboxCapture.objects.filter(charge_id=payment.provider_reference).count() == 2
    assert payment.captured_amount == order.total_amount
    assert not payment.needs_attention
