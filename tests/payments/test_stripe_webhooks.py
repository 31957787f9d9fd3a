"""Stripe's webhooks: signature, once per event, any order of arrival, every subscribed event."""

import json
import time

import pytest
from django.urls import reverse

from orders.models import OrderStatus
from orders.services import order_ship
from payments.models import (
    CustomerEmail,
    LedgerEvent,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
    ProviderEvent,
)
from payments.services import payment_request_refund
from tests.factories import ProductVariantFactory
from tests.helpers import stripe_order
from tests.payments.stripe_fake import webhook

pytestmark = pytest.mark.django_db
URL = "/payments/webhooks/stripe/"


@pytest.fixture
def variant():
    return ProductVariantFactory(product__price_amount=12900, stock=5)


def deliver(client, settings, event, *, secret=None, timestamp=None):
    body, signature = webhook(event, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp)
    return client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def payment_of(order) -> Payment:
    return Payment.objects.get(order=order)


# The endpoint ---------------------------------------------------------------------


def test_the_url_is_the_documented_one():
    assert reverse("stripe_webhook") == URL


def test_a_bad_signature_is_refused_and_nothing_is_stored(client, settings, stripe_fake, variant):
    order = stripe_order(stripe_fake, {variant.pk: 1})
    event = stripe_fake.event("payment_intent.succeeded", payment_of(order).provider_reference)

    response = deliver(client, settings, event, secret="whsec_someoneElsesSecret000000")

    assert response.status_code == 400
    assert not ProviderEvent.objects.exists()


def test_a_stale_signature_is_refused(client, settings, stripe_fake, variant):
    order = stripe_order(stripe_fake, {variant.pk: 1})
    event = stripe_fake.event("payment_intent.succeeded", payment_of(order).provider_reference)

    response = deliver(client, settings, event, timestamp=int(time.time()) - 3600)

    assert response.status_code == 400
    assert not ProviderEvent.objects.exists()


def test_a_missing_signature_or_a_body_that_is_not_an_event_is_refused(
    client, settings, stripe_fake
):
    assert client.post(URL, data=b"{}", content_type="application/json").status_code == 400
    body = b"not json"
    from tests.payments.stripe_fake import sign

    response = client.post(
        URL,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, settings.STRIPE_WEBHOOK_SECRET),
    )
    assert response.status_code == 400


def test_the_endpoint_is_not_there_without_the_stripe_provider(client, settings):
    settings.PAYMENTS_PROVIDER = "sandbox"
    assert client.post(URL, data=b"{}", content_type="application/json").status_code == 404


def test_a_duplicate_delivery_is_stored_and_processed_once(
    client, settings, stripe_fake, variant, run_tasks, django_assert_max_num_queries
):
    order = stripe_order(stripe_fake, {variant.pk: 1}, "pm_card_authenticationRequired")
    reference = payment_of(order).provider_reference
    stripe_fake.complete_action(reference)
    event = stripe_fake.event("payment_intent.amount_capturable_updated", reference)

    with django_assert_max_num_queries(8):  # answers fast: no call to Stripe, no handler
        first = deliver(client, settings, event)
    second = deliver(client, settings, event)
    run_tasks()
    third = deliver(client, settings, event)
    run_tasks()

    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert [r.json()["duplicate"] for r in (first, second, third)] == [False, True, True]
    stored = ProviderEvent.objects.get()
    assert (stored.event_id, stored.attempts) == (event["id"], 1)
    assert stored.processed_at is not None
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert PaymentLedgerEntry.objects.filter(operation="authorize", event="succeeded").count() == 1


def test_an_event_of_a_type_not_handled_is_kept_and_marked(
    client, settings, stripe_fake, run_tasks
):
    event = stripe_fake.event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(client, settings, event).status_code == 200
    run_tasks()
    assert ProviderEvent.objects.get().outcome == "not handled"


def test_stripe_unreachable_while_handling_retries_the_event_later(
    client, settings, stripe_fake, variant, run_tasks
):
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    order = stripe_order(stripe_fake, {variant.pk: 1}, "pm_card_authenticationRequired")
    reference = payment_of(order).provider_reference
    stripe_fake.complete_action(reference)
    stripe_fake.fail_next("500", path_contains=reference, method="GET", times=2)
    deliver(
        client, settings, stripe_fake.event("payment_intent.amount_capturable_updated", reference)
    )
    run_tasks()
    event = ProviderEvent.objects.get()
    assert event.processed_at is None
    assert event.outcome.startswith("retrying")

    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()

    event.refresh_from_db()
    assert event.processed_at is not None
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED


# Each event -----------------------------------------------------------------------


def test_amount_capturable_updated_confirms_an_order_whose_shopper_never_came_back(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1}, "pm_card_authenticationRequired")
    reference = payment_of(order).provider_reference
    stripe_fake.complete_action(reference)

    deliver(
        client, settings, stripe_fake.event("payment_intent.amount_capturable_updated", reference)
    )
    run_tasks()

    order.refresh_from_db()
    payment = payment_of(order)
    assert (order.status, payment.status) == (OrderStatus.CONFIRMED, PaymentStatus.AUTHORIZED)


def test_payment_failed_fails_the_order_and_releases_its_stock(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 2}, "pm_card_authenticationRequired")
    reference = payment_of(order).provider_reference
    stripe_fake.complete_action(reference, succeed=False)

    deliver(client, settings, stripe_fake.event("payment_intent.payment_failed", reference))
    run_tasks()

    order.refresh_from_db()
    variant.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_FAILED
    assert variant.stock == 5


def test_succeeded_settles_an_alipay_payment_taken_away_from_the_shop(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1}, "pm_alipay")
    reference = payment_of(order).provider_reference
    stripe_fake.complete_action(reference)

    deliver(client, settings, stripe_fake.event("payment_intent.succeeded", reference))
    run_tasks()

    payment = payment_of(order)
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, order.total_amount)


@pytest.mark.parametrize("reason", ["expired", "automatic"])
@pytest.mark.parametrize("event_type", ["payment_intent.canceled", "charge.expired"])
def test_a_hold_that_lapsed_at_stripe_expires_and_the_customer_is_asked_again(
    client, settings, stripe_fake, variant, run_tasks, event_type, reason
):
    order = stripe_order(stripe_fake, {variant.pk: 1})
    reference = payment_of(order).provider_reference
    stripe_fake.expire(reference, cancel=True, reason=reason)
    obj = stripe_fake.get(reference)
    assert obj["cancellation_reason"] == reason  # "expired", as Stripe documents a lapse
    if event_type == "charge.expired":
        obj = stripe_fake.get(obj["latest_charge"])

    deliver(client, settings, stripe_fake.event(event_type, obj))
    run_tasks()

    payment = payment_of(order)
    assert payment.status == PaymentStatus.EXPIRED
    assert payment.failure_code == "authorization_expired"  # not "cancelled_at_provider"
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REAUTHORIZE).count() == 1


def test_a_payment_intent_cancelled_by_the_shop_itself_changes_nothing_more(
    client, settings, stripe_fake, variant, run_tasks
):
    from orders.services import order_cancel

    order = stripe_order(stripe_fake, {variant.pk: 1})
    reference = payment_of(order).provider_reference
    order_cancel(order_id=order.pk)
    run_tasks()

    deliver(client, settings, stripe_fake.event("payment_intent.canceled", reference))
    run_tasks()

    payment = payment_of(order)
    assert payment.status == PaymentStatus.VOIDED
    assert not payment.needs_attention
    assert not CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REAUTHORIZE).exists()


def test_a_refund_made_in_the_dashboard_is_recorded_once_and_the_customer_told(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment = payment_of(order)
    # The shop's own refund, and one made in the Dashboard.
    payment_request_refund(payment_id=payment.pk, amount=1000, request_token="staff-1")
    run_tasks()
    stripe_fake.refund_outside(payment.provider_reference, 500)
    charge = stripe_fake.get(payment.provider_reference)["latest_charge"]

    deliver(client, settings, stripe_fake.event("charge.refunded", charge))
    deliver(client, settings, stripe_fake.event("charge.refunded", charge))  # a second event
    run_tasks()

    payment.refresh_from_db()
    assert payment.refunded_amount == 1500
    succeeded = payment.ledger.filter(operation="refund", event=LedgerEvent.SUCCEEDED)
    assert sorted(succeeded.values_list("amount", flat=True)) == [500, 1000]
    refunded = CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REFUNDED)
    assert sorted(refunded.values_list("amount", flat=True)) == [500, 1000]


def test_review_opened_at_checkout_holds_the_order(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1}, "pm_card_riskLevelElevated")
    review = stripe_fake.get(payment_of(order).provider_reference)["review"]

    deliver(client, settings, stripe_fake.event("review.opened", review))
    run_tasks()

    order.refresh_from_db()
    assert order.status == OrderStatus.IN_REVIEW
    assert ProviderEvent.objects.get().outcome == "in step"


def test_review_closed_as_approved_in_the_dashboard_makes_the_order_shippable(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1}, "pm_card_riskLevelElevated")
    reference = payment_of(order).provider_reference
    review = stripe_fake.close_review(reference, "approved")
    review_id = review["id"] if isinstance(review, dict) else stripe_fake.get(reference)["review"]

    deliver(client, settings, stripe_fake.event("review.closed", review_id))
    run_tasks()
    run_tasks()

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert stripe_fake.count("reviews.approve") == 0  # already approved at Stripe
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REVIEW_APPROVED).count() == 1
    order_ship(order_id=order.pk, carrier="colissimo")


def test_review_closed_otherwise_is_shown_to_staff(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1}, "pm_card_riskLevelElevated")
    reference = payment_of(order).provider_reference
    stripe_fake.close_review(reference, "refunded_as_fraud")

    deliver(
        client, settings, stripe_fake.event("review.closed", stripe_fake.get(reference)["review"])
    )
    run_tasks()

    payment = payment_of(order)
    assert payment.needs_attention
    assert payment.failure_code == "review_closed"
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_REVIEW


def test_a_dispute_flags_the_order_for_staff(client, settings, stripe_fake, variant, run_tasks):
    order = stripe_order(stripe_fake, {variant.pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    dispute = stripe_fake.dispute(payment_of(order).provider_reference)

    deliver(client, settings, stripe_fake.event("charge.dispute.created", dispute))
    run_tasks()

    payment = payment_of(order)
    assert payment.needs_attention
    assert payment.failure_code == "disputed"
    assert payment.captured_amount == order.total_amount  # nothing else changed


def test_events_arriving_out_of_order_act_on_the_current_state(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1}, "pm_card_authenticationRequired")
    reference = payment_of(order).provider_reference
    stale = stripe_fake.get(reference)  # requires_action, as it was then
    stripe_fake.complete_action(reference)
    fresh = stripe_fake.get(reference)
    order_ship_later = fresh["status"] == "requires_capture"

    # The later event first, then an old snapshot of the same PaymentIntent.
    deliver(client, settings, stripe_fake.event("payment_intent.amount_capturable_updated", fresh))
    deliver(client, settings, stripe_fake.event("payment_intent.payment_failed", stale))
    run_tasks()

    order.refresh_from_db()
    assert order_ship_later
    assert order.status == OrderStatus.CONFIRMED
    assert payment_of(order).status == PaymentStatus.AUTHORIZED
    assert all(e.processed_at for e in ProviderEvent.objects.all())


def test_events_for_a_payment_intent_of_another_shop_are_ignored(
    client, settings, stripe_fake, run_tasks
):
    event = stripe_fake.event(
        "payment_intent.succeeded",
        {"id": "pi_elsewhere", "object": "payment_intent", "metadata": {}},
    )
    deliver(client, settings, event)
    run_tasks()
    assert ProviderEvent.objects.get().outcome == "no payment of this shop"


def test_the_webhook_body_is_stored_as_sent(client, settings, stripe_fake, run_tasks):
    event = stripe_fake.event("customer.created", {"id": "cus_1", "object": "customer"})
    deliver(client, settings, event)
    assert ProviderEvent.objects.get().payload == json.loads(json.dumps(event))


def test_staff_see_each_event_and_what_it_did_but_cannot_change_it(
    client, settings, stripe_fake, variant, run_tasks, django_assert_max_num_queries
):
    from django.contrib.auth import get_user_model

    order = stripe_order(stripe_fake, {variant.pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    dispute = stripe_fake.dispute(payment_of(order).provider_reference)
    deliver(client, settings, stripe_fake.event("charge.dispute.created", dispute))
    deliver(
        client, settings, stripe_fake.event("payment_intent.succeeded", dispute["payment_intent"])
    )
    run_tasks()
    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(staff)

    with django_assert_max_num_queries(12):
        page = client.get(reverse("admin:payments_providerevent_changelist"))

    assert page.status_code == 200
    assert "charge.dispute.created" in page.content.decode()
    assert "dispute flagged" in page.content.decode()
    event = ProviderEvent.objects.first()
    change = client.post(
        reverse("admin:payments_providerevent_change", args=[event.pk]), {"outcome": "x"}
    )
    assert change.status_code == 403


def test_an_event_before_the_shop_stored_the_reference_finds_the_payment_by_its_metadata(
    client, settings, stripe_fake, variant, run_tasks
):
    # Stripe authorized, but the answer never reached the shopper's request.
    stripe_fake.fail_next("lost", path_contains="/v1/payment_intents", method="POST", times=4)
    order = stripe_order(stripe_fake, {variant.pk: 1})
    assert payment_of(order).provider_reference == ""
    [intent] = stripe_fake.objects("payment_intent")

    deliver(
        client,
        settings,
        stripe_fake.event("payment_intent.amount_capturable_updated", intent["id"]),
    )
    run_tasks()

    order.refresh_from_db()
    payment = payment_of(order)
    assert (order.status, payment.status) == (OrderStatus.CONFIRMED, PaymentStatus.AUTHORIZED)
    assert payment.provider_reference == intent["id"]


def test_an_event_stripe_will_not_explain_is_closed_with_the_reason_for_staff(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1})
    reference = payment_of(order).provider_reference
    settings.STRIPE_SECRET_KEY = "sk_live_" + "51RevokedKey0123456789"  # Stripe answers 401

    deliver(client, settings, stripe_fake.event("payment_intent.canceled", reference))
    run_tasks()

    event = ProviderEvent.objects.get()
    assert event.processed_at is not None
    assert event.outcome.startswith("failed: stripe_configuration")
    assert payment_of(order).status == PaymentStatus.AUTHORIZED


def test_a_dashboard_refund_beyond_the_ledger_is_flagged_not_recorded_in_part(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment = payment_of(order)
    # The ledger lost track of a capture (say): Stripe's refund exceeds what it knows of.
    Payment.objects.filter(pk=payment.pk).update(captured_amount=1000)
    stripe_fake.refund_outside(payment.provider_reference, 5000)
    charge = stripe_fake.get(payment.provider_reference)["latest_charge"]

    deliver(client, settings, stripe_fake.event("charge.refunded", charge))
    run_tasks()

    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert payment.needs_attention
    assert "exceeds the ledger: flagged" in ProviderEvent.objects.get().outcome
    assert not payment.ledger.filter(operation="refund").exists()
    assert not CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REFUNDED).exists()


# Refunds Stripe does not finish at once --------------------------------------------


def _make_due(run_tasks) -> None:
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()


@pytest.mark.parametrize("status", ["pending", "requires_action"])
def test_a_refund_in_progress_is_not_done_and_the_webhook_finishes_it(
    client, settings, stripe_fake, variant, run_tasks, status
):
    order = stripe_order(stripe_fake, {variant.pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment = payment_of(order)
    stripe_fake.refund_status = status

    payment_request_refund(payment_id=payment.pk, amount=1000, request_token="staff-1")
    run_tasks()

    # In progress: nothing recorded as refunded, no e-mail, the task will ask again.
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert not CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REFUNDED).exists()
    retry = payment.ledger.get(event=LedgerEvent.RETRY_SCHEDULED)
    assert retry.error_code == "refund_in_progress"
    assert not payment.needs_attention
    [refund] = stripe_fake.objects("refund")
    assert refund["status"] == status

    # Stripe finishes it; its webhook records it.
    stripe_fake.settle_refund(refund["id"])
    deliver(client, settings, stripe_fake.event("refund.updated", refund["id"]))
    run_tasks()

    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.status) == (1000, PaymentStatus.PARTIALLY_REFUNDED)
    succeeded = payment.ledger.get(operation="refund", event=LedgerEvent.SUCCEEDED)
    assert (succeeded.idempotency_key, succeeded.provider_reference) == (
        "refund-staff-1",
        refund["id"],
    )
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REFUNDED).count() == 1

    # The task's own retry then finds it done: one refund, one e-mail.
    _make_due(run_tasks)
    payment.refresh_from_db()
    assert payment.refunded_amount == 1000
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REFUNDED).count() == 1
    assert stripe_fake.count("refunds.create") == 1


def test_a_refund_in_progress_is_finished_by_the_task_s_retry_without_a_webhook(
    stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment = payment_of(order)
    stripe_fake.refund_status = "pending"
    payment_request_refund(payment_id=payment.pk, amount=1000, request_token="staff-1")
    run_tasks()
    [refund] = stripe_fake.objects("refund")

    stripe_fake.settle_refund(refund["id"])
    _make_due(run_tasks)

    payment.refresh_from_db()
    assert payment.refunded_amount == 1000
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REFUNDED).count() == 1
    assert stripe_fake.count("refunds.create") == 1  # the same key: replayed, then read


def test_a_refund_in_progress_that_fails_is_refused_and_shown_to_staff(
    client, settings, stripe_fake, variant, run_tasks
):
    order = stripe_order(stripe_fake, {variant.pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment = payment_of(order)
    stripe_fake.refund_status = "requires_action"
    payment_request_refund(payment_id=payment.pk, amount=1000, request_token="staff-1")
    run_tasks()
    [refund] = stripe_fake.objects("refund")

    stripe_fake.settle_refund(refund["id"], succeed=False)
    deliver(client, settings, stripe_fake.event("refund.updated", refund["id"]))
    run_tasks()
    _make_due(run_tasks)

    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert (payment.needs_attention, payment.failure_code) == (True, "refund_failed")
    assert not CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REFUNDED).exists()
