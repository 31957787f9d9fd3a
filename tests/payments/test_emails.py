from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from orders.services import order_ship
from payments.emails import customer_email_queue, customer_email_send
from payments.models import CustomerEmail
from payments.services import payment_capture
from tests.factories import ProductVariantFactory
from tests.helpers import capture_key, place_order, send_placed_emails

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_email():
    """A capture succeeded and queued its e-mail; the worker has not sent it yet."""
    order = place_order({ProductVariantFactory(product__price_amount=5000).pk: 1})
    send_placed_emails()
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = order.payments.get()
    payment_capture(payment_id=payment.pk, idempotency_key=capture_key(shipment))
    return CustomerEmail.objects.get(kind=CustomerEmail.Kind.CAPTURED)


def test_queueing_the_same_event_twice_queues_one_email(queued_email):
    again = customer_email_queue(
        key=queued_email.key,
        kind=queued_email.kind,
        order_id=queued_email.order_id,
        ledger_entry=queued_email.ledger_entry,
    )
    assert again.pk == queued_email.pk
    assert CustomerEmail.objects.filter(kind=queued_email.kind).count() == 1


def test_an_email_is_sent_once_however_often_its_task_runs(queued_email):
    assert customer_email_send(email_id=queued_email.pk) is True
    assert customer_email_send(email_id=queued_email.pk) is False
    assert len(mail.outbox) == 1
    queued_email.refresh_from_db()
    assert queued_email.sent_at is not None


def test_a_failed_send_can_be_retried(queued_email):
    with (
        mock.patch(
            "django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("SMTP down")
        ),
        pytest.raises(OSError),
    ):
        customer_email_send(email_id=queued_email.pk)
    queued_email.refresh_from_db()
    assert queued_email.sent_at is None

    assert customer_email_send(email_id=queued_email.pk) is True
    assert len(mail.outbox) == 1


def test_an_email_whose_task_failed_is_sent_by_the_payments_check(queued_email, run_tasks):
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from payments.services import payment_watch_authorizations

    DBTaskResult.objects.all().delete()  # its task failed and was pruned
    later = timezone.now() + timedelta(minutes=settings.PAYMENTS_STALE_OPERATION_MINUTES + 1)

    report = payment_watch_authorizations(now=later)
    run_tasks()
    run_tasks()

    assert report.requeued == [queued_email.key]
    assert len(mail.outbox) == 1


def test_every_attempt_carries_the_same_message_id(queued_email):
    with (
        mock.patch(
            "django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("SMTP down")
        ),
        pytest.raises(OSError),
    ):
        customer_email_send(email_id=queued_email.pk)
    queued_email.refresh_from_db()
    first_id = queued_email.message_id
    assert first_id.startswith("<") and first_id.endswith(">") and queued_email.key in first_id

    assert customer_email_send(email_id=queued_email.pk) is True
    assert mail.outbox[0].message()["Message-ID"] == first_id


def test_a_claim_held_by_a_dead_sender_delays_the_email_but_never_drops_it(queued_email, settings):
    """The sender claimed the e-mail and died before SMTP: a run meanwhile comes back later."""
    settings.CUSTOMER_EMAIL_CLAIM_SECONDS = 60
    claimed = timezone.now() - timedelta(seconds=10)
    CustomerEmail.objects.filter(pk=queued_email.pk).update(claimed_at=claimed)
    DBTaskResult.objects.all().delete()

    assert customer_email_send(email_id=queued_email.pk) is False
    assert mail.outbox == []
    retry = DBTaskResult.objects.get()
    assert retry.args_kwargs["kwargs"] == {"email_id": queued_email.pk}
    assert retry.run_after == claimed + timedelta(seconds=60)

    # Once the claim has lapsed, the e-mail goes, once.
    CustomerEmail.objects.filter(pk=queued_email.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=61)
    )
    assert customer_email_send(email_id=queued_email.pk) is True
    assert customer_email_send(email_id=queued_email.pk) is False
    assert len(mail.outbox) == 1
