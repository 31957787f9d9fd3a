"""The worker's tasks. Each is defined beside the service it runs; this lists them.

- ``payment_operation_run_task`` (``payments.operations.engine``): every money
  operation, by name (capture, void, refund, review approval);
- ``customer_email_send_task`` (``payments.emails``);
- ``payment_event_process_task`` (``payments.operations.provider_events``);
- ``payment_watch_authorizations_task`` (``payments.operations.recovery``);
- ``reconciliation_daily_task`` and ``reconciliation_run_task``
  (``payments.operations.reconciliation``).

The older task names below only run rows queued before the operations got one
task; nothing enqueues them any more, and they can go once no such row is left.
"""

from django.tasks import task

from payments.emails import customer_email_send, customer_email_send_task
from payments.models import LedgerOperation
from payments.operations.engine import payment_operation_run, payment_operation_run_task
from payments.operations.provider_events import payment_event_process, payment_event_process_task
from payments.operations.reconciliation import reconciliation_daily_task, reconciliation_run_task
from payments.operations.recovery import payment_watch_authorizations_task, payment_watch_run

__all__ = [
    "customer_email_send_task",
    "payment_event_process_task",
    "payment_operation_run_task",
    "payment_watch_authorizations_task",
    "reconciliation_daily_task",
    "reconciliation_run_task",
]


# Rows queued before this release ----------------------------------------------


def _run(operation: str, payment_id: int, idempotency_key: str, attempt: int) -> str:
    return payment_operation_run(
        operation=operation, payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt
    )


@task()
def capture_payment(payment_id: int, idempotency_key: str, attempt: int = 1) -> str:
    return _run(LedgerOperation.CAPTURE, payment_id, idempotency_key, attempt)


@task()
def void_payment(payment_id: int, idempotency_key: str, attempt: int = 1) -> str:
    return _run(LedgerOperation.VOID, payment_id, idempotency_key, attempt)


@task()
def refund_payment(payment_id: int, idempotency_key: str, attempt: int = 1) -> str:
    return _run(LedgerOperation.REFUND, payment_id, idempotency_key, attempt)


@task()
def approve_payment_review(payment_id: int, idempotency_key: str, attempt: int = 1) -> str:
    return _run(LedgerOperation.APPROVE_REVIEW, payment_id, idempotency_key, attempt)


@task()
def process_provider_event(event_pk: int) -> str:
    return payment_event_process(event_pk=event_pk)


@task()
def send_customer_email(email_id: int) -> bool:
    return customer_email_send(email_id=email_id)


@task()
def watch_authorizations(reschedule: bool = True) -> dict:
    """Runs the check once; the workers' ``payments-check`` job keeps the schedule now."""
    return payment_watch_run()
