"""Cases found in review: unknown outcomes are asked again, never guessed."""

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from orders.models import OrderStatus
from orders.services import order_ship
from payments.exceptions import ProviderUnavailable
from payments.models import LedgerEvent, Payment, PaymentStatus
from payments.providers.sandbox.models import SandboxCapture, SandboxCharge
from payments.providers.sandbox.provider import SandboxProvider
from payments.services import payment_capture, payment_watch_authorizations
from tests.factories import ProductVariantFactory
from tests.helpers import capture_key, place_order, send_placed_emails

pytestmark = pytest.mark.django_db


def test_a_capture_sent_before_the_hold_lapsed_is_asked_again_not_refused(run_tasks):
    dress = ProductVariantFactory(product__price_amount=10000, stock=5)
    scarf = ProductVariantFactory(product__price_amount=5000, stock=5)
    order = place_order({dress.pk: 1, scarf.pk: 1})
    first = order_ship(
        order_id=order.pk, carrier="colissimo", lines={order.lines.get(variant=dress).pk: 1}
    )
    payment = Payment.objects.get(order=order)
    real = SandboxProvider.capture

    def captured_then_lost(self, request):
        real(self, request)
        raise ProviderUnavailable("answer lost")

    with mock.patch.object(SandboxProvider, "capture", captured_then_lost):
        payment_capture(payment_id=payment.pk, idempotency_key=capture_key(first))
    # Meanwhile the hold lapses and the payment is marked expired by another path.
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.EXPIRED)

    outcome = payment_capture(payment_id=payment.pk, idempotency_key=capture_key(first), attempt=2)

    payment.refresh_from_db()
    assert outcome == "succeeded"
    assert payment.captured_amount == first.amount  # the money that moved is recorded
    assert SandboxCapture.objects.count() == 1


def test_an_unanswered_authorization_stays_pending_and_the_retry_finds_the_answer(client):
    from tests.shop.test_checkout import checkout_until_review, review_form

    variant = ProductVariantFactory(stock=3)
    checkout_until_review(client, variant)
    form = review_form(client)
    real = SandboxProvider.authorize

    def authorized_then_lost(self, request):
        real(self, request)
        raise ProviderUnavailable("timeout")

    with mock.patch.object(SandboxProvider, "authorize", authorized_then_lost):
        response = client.post(reverse("shop:checkout_review"), form)
    assert response.url == reverse("shop:checkout_review")
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.PENDING
    assert payment.order.status == OrderStatus.PENDING_PAYMENT

    response = client.post(reverse("shop:checkout_review"), form)  # the shopper tries again

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORIZED
    assert SandboxCharge.objects.count() == 1  # one hold, not two
    assert "/orders/" in response.url


def test_reauthorizing_with_a_3d_secure_card_goes_through_the_banks_page(client, run_tasks):
    order = place_order({ProductVariantFactory(stock=3).pk: 1})
    send_placed_emails()
    payment = Payment.objects.get(order=order)
    payment_watch_authorizations(now=payment.authorization_expires_at)
    run_tasks()
    link = next(w for w in mail.outbox[0].body.split() if "/authorize/?sig=" in w)
    path = link.removeprefix("http://127.0.0.1:8000")

    response = client.post(path)
    response = client.post(
        response.url,
        {"number": "4000002760003184", "expiry": "12/34", "security_code": "123"},
    )
    response = client.get(response.url)
    assert response.url.startswith("/sandbox/3ds/")
    response = client.post(response.url, {"outcome": "approve"})
    client.get(response.url)

    new = Payment.objects.filter(order=order).latest("pk")
    assert new.status == PaymentStatus.AUTHORIZED
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    new.refresh_from_db()
    assert new.captured_amount == order.total_amount


def test_an_smtp_outage_does_not_stop_the_recovery_of_operations(run_tasks, settings):
    order = place_order({ProductVariantFactory(stock=3).pk: 1})
    send_placed_emails()
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    DBTaskResult.objects.all().delete()  # the capture's worker died
    later = Payment.objects.get().authorization_expires_at - timedelta(hours=1)
    assert later > timezone.now()

    with mock.patch(
        "payments.operations.recovery.staff_email_expiring_authorizations", side_effect=OSError
    ):
        report = payment_watch_authorizations(now=later)

    assert report.requeued == [capture_key(shipment)]
    run_tasks()
    assert Payment.objects.get().ledger.filter(event=LedgerEvent.SUCCEEDED).count() == 2


def test_staff_who_may_only_view_orders_get_no_money_actions(client):
    user = get_user_model().objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)

    response = client.get(reverse("admin:orders_order_changelist"))

    assert response.status_code == 200
    form = response.context["action_form"]
    actions = [choice[0] for choice in form.fields["action"].choices] if form else []
    for action in ["mark_shipped", "cancel", "approve_review", "retry_failed_captures"]:
        assert action not in actions
    order = place_order({ProductVariantFactory(stock=3).pk: 1})
    response = client.get(reverse("admin:orders_order_ship") + f"?ids={order.pk}")
    assert response.status_code == 403


def test_a_capture_the_provider_refused_is_asked_again_under_a_new_key(run_tasks):
    from payments.exceptions import ProviderRejected
    from payments.services import payment_retry_failed_captures

    order = place_order({ProductVariantFactory(stock=3).pk: 1})
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    refused = ProviderRejected("issuer says no", code="processing_error")
    with mock.patch.object(SandboxProvider, "capture", side_effect=refused):
        run_tasks()
    old_key = capture_key(shipment)

    assert payment_retry_failed_captures(order_id=order.pk) == 1
    run_tasks()

    payment = Payment.objects.get()
    assert payment.captured_amount == order.total_amount
    [success] = payment.ledger.filter(event=LedgerEvent.SUCCEEDED, operation="capture")
    assert success.idempotency_key != old_key
    assert success.idempotency_key.startswith(old_key)
