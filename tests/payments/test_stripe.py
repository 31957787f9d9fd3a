"""The Stripe provider end to end through the services, against Stripe stubbed at the HTTP level.

``stripe_fake`` (tests/payments/stripe_fake.py) answers the official
library's HTTP requests with objects shaped as the pinned API version
documents them; nothing leaves the machine.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from orders.models import OrderStatus
from orders.services import order_cancel, order_ship
from payments.exceptions import PaymentDeclined
from payments.models import CustomerEmail, LedgerEvent, Payment, PaymentLedgerEntry, PaymentStatus
from payments.services import (
    payment_complete_authentication,
    payment_request_refund,
    payment_request_review_approval,
)
from tests.factories import ProductVariantFactory
from tests.helpers import send_placed_emails, stripe_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def variants():
    return [
        ProductVariantFactory(product__price_amount=12900, stock=5),
        ProductVariantFactory(product__price_amount=4500, stock=5),
    ]


def posts(fake, path_end: str) -> list:
    return [r for r in fake.requests if r.method.upper() == "POST" and r.path.endswith(path_end)]


def intent_of(order) -> str:
    return Payment.objects.get(order=order).provider_reference


def make_due_and_run(run_tasks) -> None:
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()


# Authorization --------------------------------------------------------------------


def test_an_approved_card_is_held_by_a_payment_intent_made_on_the_server(stripe_fake, variants):
    order = stripe_order(stripe_fake, {variants[0].pk: 2})

    payment = Payment.objects.get(order=order)
    [create] = posts(stripe_fake, "/v1/payment_intents")
    assert create.params["amount"] == str(order.total_amount)  # from the order
    assert create.params["currency"] == "eur"
    assert create.params["confirm"] == "true"
    assert create.params["metadata"]["order_number"] == order.number
    assert create.params["capture_method"] == "manual"
    # The pinned version (endive) refuses payment_method_types; this is its replacement.
    assert create.params["allowed_payment_method_types"] == ["card"]
    assert "payment_method_types" not in create.params
    assert create.params["payment_method_options"]["card"] == {
        "capture_method": "manual",
        "request_multicapture": "if_available",
    }
    assert create.idempotency_key == f"authorize-payment-{payment.pk}"
    assert order.status == OrderStatus.CONFIRMED
    assert payment.status == PaymentStatus.AUTHORIZED
    assert payment.authorized_amount == order.total_amount
    assert (payment.card_brand, payment.card_last4) == ("Visa", "4242")
    charge = stripe_fake.get(payment.provider_reference, expand=["latest_charge"])["latest_charge"]
    capture_before = charge["payment_method_details"]["card"]["capture_before"]
    assert payment.authorization_expires_at == datetime.fromtimestamp(capture_before, tz=UTC)


def test_every_post_to_stripe_carries_the_operations_idempotency_key(
    stripe_fake, variants, run_tasks
):
    order = stripe_order(stripe_fake, {variants[0].pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    keys = [r.idempotency_key for r in stripe_fake.requests if r.method.upper() == "POST"]
    payment = Payment.objects.get(order=order)
    assert keys == [
        f"authorize-payment-{payment.pk}",
        *payment.ledger.filter(event=LedgerEvent.REQUESTED).values_list(
            "idempotency_key", flat=True
        ),
    ]


@pytest.mark.parametrize("wallet", ["apple_pay", "google_pay"])
def test_a_wallet_pays_as_a_card_and_the_payment_records_the_wallet(stripe_fake, variants, wallet):
    order = stripe_order(stripe_fake, {variants[0].pk: 1}, wallet=wallet)
    payment = Payment.objects.get(order=order)
    assert payment.method == wallet
    assert payment.status == PaymentStatus.AUTHORIZED


@pytest.mark.parametrize(
    ("payment_method", "code"),
    [
        ("pm_card_visa_chargeDeclined", "card_declined"),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
    ],
)
def test_declines_fail_the_order_with_their_reason_and_release_the_stock(
    stripe_fake, variants, payment_method, code
):
    order = stripe_order(stripe_fake, {variants[0].pk: 2}, payment_method)

    payment = Payment.objects.get(order=order)
    assert order.status == OrderStatus.PAYMENT_FAILED
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, code)
    variants[0].refresh_from_db()
    assert variants[0].stock == 5


def test_3d_secure_sends_the_shopper_to_stripe_js_then_reads_the_outcome_from_stripe(
    stripe_fake, variants, run_tasks
):
    order = stripe_order(stripe_fake, {variants[0].pk: 1}, "pm_card_authenticationRequired")
    payment = Payment.objects.get(order=order)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert payment.status == PaymentStatus.PENDING
    assert payment.action_url.startswith(reverse("stripe:next_action") + "?t=")

    # Coming back without authenticating: still required, so abandoned.
    with pytest.raises(PaymentDeclined, match="did not finish"):
        payment_complete_authentication(payment_id=payment.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_FAILED
    # ...and the PaymentIntent is cancelled, in the worker, so it cannot be finished later.
    assert not posts(stripe_fake, "/cancel")
    run_tasks()
    [cancel] = posts(stripe_fake, "/cancel")
    assert cancel.idempotency_key == f"void-abandoned-payment-{payment.pk}"
    assert cancel.params["cancellation_reason"] == "abandoned"
    intent = stripe_fake.get(payment.provider_reference)
    assert (intent["status"], intent["cancellation_reason"]) == ("canceled", "abandoned")
    payment.refresh_from_db()
    assert (payment.status, payment.needs_attention) == (PaymentStatus.FAILED, False)


def test_3d_secure_completed_authorizes(stripe_fake, variants):
    order = stripe_order(stripe_fake, {variants[0].pk: 1}, "pm_card_authenticationRequired")
    payment = Payment.objects.get(order=order)
    stripe_fake.complete_action(payment.provider_reference)

    payment = payment_complete_authentication(payment_id=payment.pk)

    order.refresh_from_db()
    assert (payment.status, order.status) == (PaymentStatus.AUTHORIZED, OrderStatus.CONFIRMED)


def test_3d_secure_failed_is_a_decline(stripe_fake, variants):
    order = stripe_order(stripe_fake, {variants[0].pk: 1}, "pm_card_authenticationRequired")
    payment = Payment.objects.get(order=order)
    stripe_fake.complete_action(payment.provider_reference, succeed=False)

    with pytest.raises(PaymentDeclined) as error:
        payment_complete_authentication(payment_id=payment.pk)

    assert error.value.code == "authentication_failed"
    assert not PaymentLedgerEntry.objects.filter(operation="void").exists()  # nothing to cancel


def test_paypal_is_held_at_the_order_and_captured_at_shipment(stripe_fake, variants, run_tasks):
    order = stripe_order(stripe_fake, {variants[0].pk: 1}, "pm_paypal")
    payment = Payment.objects.get(order=order)
    [create] = posts(stripe_fake, "/v1/payment_intents")
    assert create.params["payment_method_options"] == {"paypal": {"capture_method": "manual"}}
    assert create.params["allowed_payment_method_types"] == ["paypal"]
    stripe_fake.complete_action(payment.provider_reference)
    payment = payment_complete_authentication(payment_id=payment.pk)
    assert (payment.method, payment.status) == ("paypal", PaymentStatus.AUTHORIZED)
    assert payment.authorization_expires_at > timezone.now() + timedelta(days=28)

    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()

    payment.refresh_from_db()
    assert payment.captured_amount == order.total_amount


def test_alipay_is_taken_at_once_and_shipping_captures_nothing(stripe_fake, variants, run_tasks):
    order = stripe_order(stripe_fake, {variants[0].pk: 1}, "pm_alipay")
    payment = Payment.objects.get(order=order)
    [create] = posts(stripe_fake, "/v1/payment_intents")
    assert create.params["capture_method"] == "automatic"
    assert "payment_method_options" not in create.params
    assert create.params["allowed_payment_method_types"] == ["alipay"]
    stripe_fake.complete_action(payment.provider_reference)
    payment = payment_complete_authentication(payment_id=payment.pk)
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, order.total_amount)

    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()

    assert stripe_fake.count("payment_intents.capture") == 0
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.SHIPPED_PAID).count() == 1


# After the order ------------------------------------------------------------------


def test_each_parcel_captures_its_amount_and_the_last_one_releases_the_rest(
    stripe_fake, variants, run_tasks
):
    order = stripe_order(stripe_fake, {variants[0].pk: 1, variants[1].pk: 1})
    send_placed_emails()
    first_line, _second_line = order.lines.order_by("pk")
    first = order_ship(order_id=order.pk, carrier="colissimo", lines={first_line.pk: 1})
    run_tasks()
    second = order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()

    captures = posts(stripe_fake, "/capture")
    assert [c.params["amount_to_capture"] for c in captures] == [
        str(first.amount),
        str(second.amount),
    ]
    assert captures[0].params["final_capture"] == "false"
    assert "final_capture" not in captures[1].params  # the default: release the rest
    intent = stripe_fake.get(intent_of(order))
    assert (intent["status"], intent["amount_received"]) == ("succeeded", order.total_amount)
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.CAPTURED
    assert sorted(e.amount for e in CustomerEmail.objects.filter(kind="captured")) == sorted(
        [first.amount, second.amount]
    )
    assert len(mail.outbox) == 2


def test_a_partial_capture_without_multicapture_is_refused_before_stripe_is_asked(
    stripe_fake, variants, run_tasks
):
    stripe_fake.multicapture = False
    order = stripe_order(stripe_fake, {variants[0].pk: 1, variants[1].pk: 1})
    first_line = order.lines.order_by("pk").first()
    order_ship(order_id=order.pk, carrier="colissimo", lines={first_line.pk: 1})
    run_tasks()

    payment = Payment.objects.get(order=order)
    assert stripe_fake.count("payment_intents.capture") == 0
    assert payment.needs_attention
    assert payment.failure_code == "multicapture_unavailable"
    assert payment.captured_amount == 0


def test_a_capture_after_the_hold_lapsed_expires_the_payment_and_asks_the_customer_again(
    stripe_fake, variants, run_tasks
):
    order = stripe_order(stripe_fake, {variants[0].pk: 1})
    stripe_fake.expire(intent_of(order))
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()

    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.EXPIRED
    assert payment.needs_attention
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REAUTHORIZE).count() == 1


def test_cancelling_cancels_the_payment_intent_once(stripe_fake, variants, run_tasks):
    order = stripe_order(stripe_fake, {variants[0].pk: 1})
    order_cancel(order_id=order.pk)
    run_tasks()
    run_tasks()

    payment = Payment.objects.get(order=order)
    [cancel] = posts(stripe_fake, "/cancel")
    assert cancel.idempotency_key == f"void-payment-{payment.pk}"
    assert cancel.params["cancellation_reason"] == "requested_by_customer"
    assert stripe_fake.get(payment.provider_reference)["status"] == "canceled"
    assert payment.status == PaymentStatus.VOIDED
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.VOIDED).count() == 1


def test_a_refund_is_a_stripe_refund_named_after_the_operation(stripe_fake, variants, run_tasks):
    order = stripe_order(stripe_fake, {variants[0].pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment = Payment.objects.get(order=order)

    payment_request_refund(payment_id=payment.pk, amount=1000, request_token="staff-1")
    run_tasks()

    [refund] = posts(stripe_fake, "/v1/refunds")
    assert refund.params["amount"] == "1000"
    assert refund.params["payment_intent"] == payment.provider_reference
    assert refund.params["metadata"]["operation"] == "refund-staff-1"
    assert refund.idempotency_key == "refund-staff-1"
    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.status) == (1000, PaymentStatus.PARTIALLY_REFUNDED)


def test_a_lost_answer_is_retried_with_the_same_key_and_captures_once(
    stripe_fake, variants, run_tasks
):
    order = stripe_order(stripe_fake, {variants[0].pk: 1})
    send_placed_emails()
    # Stripe captures but the answer never arrives, twice: the library's retry too.
    stripe_fake.fail_next("lost", path_contains="/capture", times=2)
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment = Payment.objects.get(order=order)
    assert payment.captured_amount == 0
    assert payment.ledger.filter(event=LedgerEvent.RETRY_SCHEDULED).exists()

    make_due_and_run(run_tasks)

    payment.refresh_from_db()
    assert stripe_fake.count("payment_intents.capture") == 1
    assert {c.idempotency_key for c in posts(stripe_fake, "/capture")} == {
        PaymentLedgerEntry.objects.get(
            operation="capture", event=LedgerEvent.REQUESTED
        ).idempotency_key
    }
    assert payment.captured_amount == order.total_amount
    assert len(mail.outbox) == 1


def test_stripe_unreachable_leaves_the_authorization_pending_and_the_retry_finds_it(
    stripe_fake, variants
):
    from payments.services import payment_authorize

    stripe_fake.fail_next("lost", path_contains="/v1/payment_intents", method="POST", times=4)
    order = stripe_order(stripe_fake, {variants[0].pk: 1})
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.PENDING

    payment = payment_authorize(payment_id=payment.pk)  # the payments check, later

    assert payment.status == PaymentStatus.AUTHORIZED
    assert stripe_fake.count("payment_intents.create") == 1


# Radar review ---------------------------------------------------------------------


def test_an_open_review_holds_the_order_and_staff_approval_approves_it_at_stripe(
    stripe_fake, variants, run_tasks
):
    order = stripe_order(stripe_fake, {variants[0].pk: 1}, "pm_card_riskLevelElevated")
    payment = Payment.objects.get(order=order)
    assert (order.status, payment.status) == (OrderStatus.IN_REVIEW, PaymentStatus.IN_REVIEW)

    payment_request_review_approval(order_id=order.pk)
    run_tasks()

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert stripe_fake.count("reviews.approve") == 1
    kinds = set(CustomerEmail.objects.values_list("kind", flat=True))
    assert kinds == {CustomerEmail.Kind.IN_REVIEW, CustomerEmail.Kind.REVIEW_APPROVED}


def test_staff_rejecting_a_review_cancels_the_payment_intent(stripe_fake, variants, run_tasks):
    order = stripe_order(stripe_fake, {variants[0].pk: 1}, "pm_card_riskLevelElevated")
    order_cancel(order_id=order.pk)
    run_tasks()

    assert stripe_fake.get(intent_of(order))["status"] == "canceled"
    assert Payment.objects.get(order=order).status == PaymentStatus.VOIDED


def test_cancelling_an_order_whose_hold_stripe_already_cancelled_is_not_an_error(
    stripe_fake, variants, run_tasks
):
    order = stripe_order(stripe_fake, {variants[0].pk: 1})
    stripe_fake.expire(intent_of(order), cancel=True)  # before the webhook says so
    order_cancel(order_id=order.pk)
    run_tasks()

    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.VOIDED
    assert not payment.needs_attention


def test_stripe_refusing_to_say_how_a_3d_secure_ended_leaves_the_payment_pending(
    stripe_fake, variants, settings
):
    from payments.exceptions import ProviderUnavailable

    order = stripe_order(stripe_fake, {variants[0].pk: 1}, "pm_card_authenticationRequired")
    payment = Payment.objects.get(order=order)
    stripe_fake.complete_action(payment.provider_reference)
    settings.STRIPE_SECRET_KEY = "sk_live_" + "51RevokedKey0123456789"  # Stripe answers 401

    with pytest.raises(ProviderUnavailable):
        payment_complete_authentication(payment_id=payment.pk)

    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == (PaymentStatus.PENDING, OrderStatus.PENDING_PAYMENT)


@pytest.mark.parametrize(
    ("payment_method", "brand", "last4"),
    [("pm_card_mastercard", "Mastercard", "4444"), ("pm_card_amex", "American Express", "8431")],
)
def test_mastercard_and_american_express_are_accepted(
    stripe_fake, variants, payment_method, brand, last4
):
    order = stripe_order(stripe_fake, {variants[0].pk: 1}, payment_method)
    payment = Payment.objects.get(order=order)
    assert (payment.card_brand, payment.card_last4) == (brand, last4)
    assert payment.status == PaymentStatus.AUTHORIZED


def test_a_card_brand_the_boutique_does_not_take_is_refused_before_any_payment(stripe_fake):
    from payments.services import payment_card_session_read, payment_card_session_start

    payment_card_session_start(
        reference="checkout",
        amount=1000,
        currency="EUR",
        return_url="http://testserver/checkout/payment/return/",
        cancel_url="http://testserver/checkout/payment/",
        language="fr",
    )
    token = stripe_fake.create_confirmation_token("pm_card_discover")

    with pytest.raises(PaymentDeclined) as error:
        payment_card_session_read(reference="checkout", session_id=token)

    assert error.value.code == "brand_not_accepted"
    assert not posts(stripe_fake, "/v1/payment_intents")
