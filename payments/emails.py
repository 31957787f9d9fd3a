"""E-mails about payments: queued with the event they report, sent once by the worker.

The sending task, ``customer_email_send_task``, lives here beside the service it runs.
"""

import logging

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, send_mail
from django.db import transaction
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from orders.models import Order
from payments.models import CustomerEmail, Payment, PaymentLedgerEntry
from payments.operations import keys

logger = logging.getLogger(__name__)

TEMPLATES = {
    CustomerEmail.Kind.CAPTURED: "payments/email/captured",
    CustomerEmail.Kind.REFUNDED: "payments/email/refunded",
    CustomerEmail.Kind.VOIDED: "payments/email/released",
    CustomerEmail.Kind.REAUTHORIZE: "payments/email/reauthorize",
    CustomerEmail.Kind.IN_REVIEW: "payments/email/in_review",
    CustomerEmail.Kind.REVIEW_APPROVED: "payments/email/review_approved",
    CustomerEmail.Kind.SHIPPED_PAID: "payments/email/shipped_paid",
}
REAUTHORIZE_SALT = "payments.reauthorize"
REAUTHORIZE_MAX_AGE = 60 * 60 * 24 * 30


def reauthorize_url(order: Order) -> str:
    """A signed link that lets the customer authorize their order again, without an account."""
    signature = signing.dumps(str(order.token), salt=REAUTHORIZE_SALT)
    with translation.override(order.language):
        path = reverse("shop:order_reauthorize", kwargs={"token": order.token})
    return f"{settings.SHOP_BASE_URL}{path}?sig={signature}"


def reauthorize_signature_valid(order: Order, signature: str) -> bool:
    try:
        value = signing.loads(signature, salt=REAUTHORIZE_SALT, max_age=REAUTHORIZE_MAX_AGE)
    except signing.BadSignature:
        return False
    return value == str(order.token)


def customer_email_queue(
    *,
    key: str,
    kind: str,
    order_id: int,
    ledger_entry: PaymentLedgerEntry | None = None,
    amount: int | None = None,
) -> CustomerEmail:
    """Record the e-mail an event calls for and enqueue its sending, in the caller's transaction.

    Idempotent per ``key``: the same event never queues a second e-mail.
    """
    with transaction.atomic():
        order = Order.objects.only("email", "currency").get(pk=order_id)
        email, created = CustomerEmail.objects.get_or_create(
            key=key,
            defaults={
                "kind": kind,
                "order_id": order_id,
                "ledger_entry": ledger_entry,
                "to": order.email,
                "amount": amount,
                "currency": order.currency,
            },
        )
        if created:
            customer_email_send_task.enqueue(email_id=email.pk)
    return email


def customer_email_resend(*, email_id: int, request_token: str) -> CustomerEmail:
    """Send an e-mail again, as a new e-mail (the first one's record stays as it was).

    Staff's form carries a one-time token: submitting it twice resends once.
    """
    original = CustomerEmail.objects.get(pk=email_id)
    return customer_email_queue(
        key=keys.email_resend(original.key, request_token),
        kind=original.kind,
        order_id=original.order_id,
        ledger_entry=original.ledger_entry,
        amount=original.amount,
    )


def customer_email_requeue_unsent(*, older_than) -> list[str]:
    """Enqueue again the e-mails still unsent since before ``older_than`` (their task failed).

    Sending claims the row under a lock, so an e-mail whose first task is
    still queued is not sent twice.
    """
    keys = []
    for email in CustomerEmail.objects.filter(sent_at__isnull=True, created_at__lte=older_than):
        customer_email_send_task.enqueue(email_id=email.pk)
        keys.append(email.key)
    return keys


def customer_email_send(*, email_id: int) -> bool:
    """Send a queued e-mail unless it was sent already; returns whether it sent now.

    The row is claimed under a lock (``sent_at`` set) before the message
    leaves, so a task that runs twice, even at the same time, sends it once.
    SMTP runs with no lock held; if sending fails the claim is undone and the
    error propagates, so the task is recorded as failed and can be re-run.
    """
    with transaction.atomic():
        email = CustomerEmail.objects.select_for_update().get(pk=email_id)
        if email.sent_at is not None:
            return False
        email.sent_at = timezone.now()
        email.save(update_fields=["sent_at"])

    try:
        message = _render(email)
        message.send()
    except Exception:
        CustomerEmail.objects.filter(pk=email_id).update(sent_at=None)
        logger.exception("Sending customer e-mail %s failed", email.key)
        raise
    return True


@task()
def customer_email_send_task(email_id: int) -> bool:
    return customer_email_send(email_id=email_id)


def _render(email: CustomerEmail) -> EmailMultiAlternatives:
    order = Order.objects.get(pk=email.order_id)
    entry = (
        PaymentLedgerEntry.objects.select_related("payment", "shipment").get(
            pk=email.ledger_entry_id
        )
        if email.ledger_entry_id
        else None
    )
    payment = entry.payment if entry else Payment.objects.filter(order=order).first()
    context = {
        "order": order,
        "payment": payment,
        "email": email,
        "shipment": entry.shipment if entry else None,
        "shop_url": settings.SHOP_BASE_URL,
    }
    if email.kind == CustomerEmail.Kind.REAUTHORIZE:
        context["reauthorize_url"] = reauthorize_url(order)
    base = TEMPLATES[email.kind]
    with translation.override(order.language):
        subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
        text = render_to_string(f"{base}.txt", context)
        html = render_to_string(f"{base}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"X-Shop-Email-Key": email.key},
    )
    message.attach_alternative(html, "text/html")
    return message


def staff_email_expiring_authorizations(payments: list[Payment]) -> None:
    """Tell staff which authorizations lapse soon with something left to capture."""
    with translation.override(settings.LANGUAGE_CODE):
        body = render_to_string(
            "payments/email/staff_expiring.txt",
            {"payments": payments, "shop_url": settings.SHOP_BASE_URL},
        )
        subject = " ".join(
            render_to_string(
                "payments/email/staff_expiring_subject.txt",
                {"count": len(payments), "hours": settings.PAYMENTS_EXPIRY_WARNING_HOURS},
            ).split()
        )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, settings.STAFF_NOTIFICATION_EMAIL)
