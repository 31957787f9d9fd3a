"""E-mails about payments: queued with the event they report, sent once by the worker.

The sending task, ``customer_email_send_task``, lives here beside the service it runs.
"""

import logging
from datetime import timedelta
from email.utils import make_msgid
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, send_mail
from django.db import IntegrityError, transaction
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from orders.links import order_page_url
from orders.models import Order, Shipment
from orders.shipping import tracking_url
from payments.email_layout import inline_styles
from payments.models import CustomerEmail, Payment, PaymentLedgerEntry
from payments.operations import keys
from payments.operations.keys import shipment_id_of_shipped_paid

logger = logging.getLogger(__name__)

TEMPLATES = {
    CustomerEmail.Kind.PLACED: "payments/email/placed",
    CustomerEmail.Kind.ORDER_LINK: "payments/email/order_link",
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
    order: Order | None = None,
) -> CustomerEmail:
    """Record the e-mail an event calls for and enqueue its sending, in the caller's transaction.

    Idempotent per ``key``: the same event never queues a second e-mail.
    ``order``: the order as the caller has it (its address and currency are not read again).
    No savepoint of its own but the insert's: an error here rolls back the caller's transaction.
    """
    if order is None or order.pk != order_id:
        order = Order.objects.only("email", "currency").get(pk=order_id)
    with transaction.atomic(savepoint=False):
        try:
            # Inserted first (the key is unique): a repeated event finds the first e-mail.
            with transaction.atomic():
                email = CustomerEmail.objects.create(
                    key=key,
                    kind=kind,
                    order_id=order_id,
                    ledger_entry=ledger_entry,
                    to=order.email,
                    amount=amount,
                    currency=order.currency,
                )
        except IntegrityError:
            return CustomerEmail.objects.get(key=key)
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

    The row is claimed under a lock (``claimed_at``) before the message
    leaves, so two runs at the same time send it once. SMTP runs with no lock
    held. On success ``sent_at`` is written; on an error the claim is undone
    and the error propagates (the task fails and is run again by the payments
    check). A run that finds a fresh claim (its sender may have died) comes
    back when the claim lapses. Every attempt carries the same Message-ID.
    """
    claim_for = timedelta(seconds=settings.CUSTOMER_EMAIL_CLAIM_SECONDS)
    with transaction.atomic():
        email = CustomerEmail.objects.select_for_update().get(pk=email_id)
        if email.sent_at is not None:
            return False
        now = timezone.now()
        if email.claimed_at is not None and email.claimed_at > now - claim_for:
            customer_email_send_task.using(run_after=email.claimed_at + claim_for).enqueue(
                email_id=email.pk
            )
            return False
        email.claimed_at = now
        if not email.message_id:
            email.message_id = make_msgid(idstring=email.key, domain=_message_id_domain())
        email.save(update_fields=["claimed_at", "message_id"])

    try:
        message = _render(email)
        message.send()
    except Exception:
        CustomerEmail.objects.filter(pk=email_id, claimed_at=email.claimed_at).update(
            claimed_at=None
        )
        logger.exception("Sending customer e-mail %s failed", email.key)
        raise
    CustomerEmail.objects.filter(pk=email_id).update(sent_at=timezone.now())
    return True


def _message_id_domain() -> str:
    return urlsplit(settings.SHOP_BASE_URL).hostname or "boutique.invalid"


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
    shipment_id = entry.shipment_id if entry else shipment_id_of_shipped_paid(email.key)
    shipment = Shipment.objects.filter(pk=shipment_id).first() if shipment_id else None
    with translation.override(order.language):
        links = {
            "payment_info_url": settings.SHOP_BASE_URL + reverse("shop:payment_information"),
            "contact_url": settings.SHOP_BASE_URL + reverse("shop:legal_contact"),
        }
    context = {
        "order": order,
        "payment": payment,
        "email": email,
        "shipment": shipment,
        "tracking_url": tracking_url(shipment.carrier, shipment.tracking_number)
        if shipment
        else "",
        "shop_url": settings.SHOP_BASE_URL,
        "order_url": order_page_url(order),
        **links,
    }
    if email.kind == CustomerEmail.Kind.REAUTHORIZE:
        context["reauthorize_url"] = reauthorize_url(order)
    base = TEMPLATES[email.kind]
    with translation.override(order.language):
        subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
        text = render_to_string(f"{base}.txt", context)
        html = inline_styles(render_to_string(f"{base}.html", context))
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"X-Shop-Email-Key": email.key, "Message-ID": email.message_id},
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
