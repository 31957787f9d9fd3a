"""Work the worker does: captures and e-mails. Tasks only call services."""

from django.tasks import task

from payments.emails import customer_email_send
from payments.services import payment_capture


@task()
def capture_payment(payment_id: int, idempotency_key: str, attempt: int = 1) -> str:
    return payment_capture(payment_id=payment_id, idempotency_key=idempotency_key, attempt=attempt)


@task()
def send_customer_email(email_id: int) -> bool:
    return customer_email_send(email_id=email_id)
