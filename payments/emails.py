"""Customer e-mails about payments: queued with the event, sent once by the worker."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from orders.models import Order
from payments.models import CustomerEmail, PaymentLedgerEntry

logger = logging.getLogger(__name__)

TEMPLATES = {
    CustomerEmail.Kind.CAPTURED: "payments/email/captured",
}


def customer_email_queue(
    *, key: str, kind: str, order_id: int, ledger_entry: PaymentLedgerEntry | None = None
) -> CustomerEmail:
    """Record the e-mail an event calls for and enqueue its sending, in the caller's transaction.

    Idempotent per ``key``: the same event never queues a second e-mail.
    """
    from payments.tasks import send_customer_email

    with transaction.atomic():
        order = Order.objects.only("email").get(pk=order_id)
        email, created = CustomerEmail.objects.get_or_create(
            key=key,
            defaults={
                "kind": kind,
                "order_id": order_id,
                "ledger_entry": ledger_entry,
                "to": order.email,
            },
        )
        if created:
            send_customer_email.enqueue(email_id=email.pk)
    return email


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


def _render(email: CustomerEmail) -> EmailMultiAlternatives:
    entry = (
        PaymentLedgerEntry.objects.select_related("payment", "order").get(pk=email.ledger_entry_id)
        if email.ledger_entry_id
        else None
    )
    order = entry.order if entry else Order.objects.get(pk=email.order_id)
    context = {
        "order": order,
        "payment": entry.payment if entry else None,
        "entry": entry,
        "shipment": order.shipments.order_by("-pk").first(),
        "shop_url": settings.SHOP_BASE_URL,
    }
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
