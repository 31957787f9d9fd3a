"""Work the worker does: money moves, e-mails and the periodic watch. Tasks only call services."""

from datetime import timedelta

from django.tasks import task
from django.utils import timezone

from payments.emails import customer_email_send
from payments.services import (
    payment_approve_review,
    payment_capture,
    payment_event_process,
    payment_refund,
    payment_void,
    payment_watch_authorizations,
)

WATCH_INTERVAL = timedelta(minutes=15)


@task()
def capture_payment(payment_id: int, idempotency_key: str, attempt: int = 1) -> str:
    return payment_capture(payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt)


@task()
def void_payment(payment_id: int, idempotency_key: str, attempt: int = 1) -> str:
    return payment_void(payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt)


@task()
def refund_payment(payment_id: int, idempotency_key: str, attempt: int = 1) -> str:
    return payment_refund(payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt)


@task()
def approve_payment_review(payment_id: int, idempotency_key: str, attempt: int = 1) -> str:
    return payment_approve_review(
        payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt
    )


@task()
def process_provider_event(event_pk: int) -> str:
    """A webhook event, after the endpoint answered: its handler brings the payment in line."""
    from payments.webhooks import HANDLERS

    return payment_event_process(event_pk=event_pk, handlers=HANDLERS)


@task()
def send_customer_email(email_id: int) -> bool:
    return customer_email_send(email_id=email_id)


@task()
def watch_authorizations(reschedule: bool = True) -> dict:
    """Expire lapsed holds, warn staff, recover stalled operations; then run again later."""
    try:
        report = payment_watch_authorizations()
    finally:
        if reschedule:
            watch_authorizations.using(run_after=timezone.now() + WATCH_INTERVAL).enqueue()
    return {"expired": report.expired, "warned": report.warned, "requeued": report.requeued}
