"""Edges of the money verbs the mutation run found untested (README, "Mutation testing").

Each test names the behaviour it pins; the README says which survivors they answered.
"""

import re
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.utils import timezone

from orders.services import order_cancel, order_ship
from payments.exceptions import ProviderUnavailable
from payments.ledger_texts import FAILURE_TEXTS
from payments.models import (
    CustomerEmail,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentStatus,
)
from payments.operations import keys
from payments.providers.sandbox.models import SandboxCapture, SandboxCharge
from payments.providers.sandbox.provider import SandboxProvider
from payments.providers.stripe.provider import StripeProvider
from payments.services import OperationOutcome, payment_capture, payment_request_refund
from tests.helpers import capture_key

pytestmark = pytest.mark.django_db


def payment_of(order) -> Payment:
    return Payment.objects.filter(order=order).latest("pk")


def dress_line(order):
    return max(order.lines.all(), key=lambda line: line.unit_price_amount)


def test_a_refund_larger_than_what_is_left_when_it_runs_is_refused_before_the_provider(
    order, run_tasks
):
    """Requested within the cap, but money was refunded meanwhile (e.g. in the dashboard)."""
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    payment = payment_of(order)
    payment_request_refund(payment_id=payment.pk, amount=5000, request_token="r1")
    Payment.objects.filter(pk=payment.pk).update(refunded_amount=payment.captured_amount - 100)

    with mock.patch.object(SandboxProvider, "refund") as refund:
        run_tasks()

    refund.assert_not_called()
    payment.refresh_from_db()
    assert payment.refunded_amount == payment.captured_amount - 100
    assert payment.needs_attention
    assert payment.failure_code == "amount_too_large"
    assert payment.failure_message == "5000 asked, 100 refundable."
    failure = payment.ledger.get(operation=LedgerOperation.REFUND, event=LedgerEvent.FAILED)
    assert (failure.error_code, failure.message) == (
        "amount_too_large",
        "5000 asked, 100 refundable.",
    )
    assert not CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REFUNDED).exists()


def test_a_lapsed_hold_is_not_expired_while_another_parcels_capture_is_open(order):
    """That capture may have gone through before the lapse: wait for its answer."""
    first = order_ship(order_id=order.pk, carrier="colissimo", lines={dress_line(order).pk: 1})
    last = order_ship(order_id=order.pk, carrier="colissimo")
    SandboxCharge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    payment = payment_of(order)

    outcome = payment_capture(payment_id=payment.pk, idempotency_key=capture_key(first))

    assert outcome == OperationOutcome.FAILED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORIZED
    assert (payment.needs_attention, payment.failure_code) == (True, "authorization_expired")
    assert not CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REAUTHORIZE).exists()

    # The open capture's own answer: refused too, nothing else open, the hold is expired.
    outcome = payment_capture(payment_id=payment.pk, idempotency_key=capture_key(last))

    assert outcome == OperationOutcome.FAILED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    assert CustomerEmail.objects.filter(kind=CustomerEmail.Kind.REAUTHORIZE).count() == 1
    assert not SandboxCapture.objects.exists()


@pytest.mark.parametrize(
    ("key", "payment_id"),
    [
        ("authorize-payment-42", 42),
        ("authorise-payment-42", None),  # same length, another prefix: not an authorization
        ("authorize-payment-", None),
        ("authorize-payment-4x2", None),
    ],
)
def test_only_an_authorization_key_names_a_payment(key, payment_id):
    assert keys.payment_id_of_authorization(key) == payment_id


@pytest.mark.parametrize("verb", ["capture", "void", "refund"])
def test_a_money_verb_goes_to_the_payments_own_provider_after_the_shop_switched(
    order, run_tasks, settings, verb
):
    """Holds taken with the sandbox are still captured, released or refunded there."""
    if verb == "refund":
        order_ship(order_id=order.pk, carrier="colissimo")
        run_tasks()
    settings.PAYMENTS_PROVIDER = "stripe"
    payment = payment_of(order)

    with mock.patch.object(StripeProvider, verb) as stripe_call:
        if verb == "capture":
            order_ship(order_id=order.pk, carrier="colissimo")
        elif verb == "void":
            order_cancel(order_id=order.pk)
        else:
            payment_request_refund(payment_id=payment.pk, amount=5000, request_token="r1")
        run_tasks()

    stripe_call.assert_not_called()
    payment.refresh_from_db()
    assert not payment.needs_attention
    expected = {
        "capture": (PaymentStatus.CAPTURED, order.total_amount, 0),
        "void": (PaymentStatus.VOIDED, 0, 0),
        "refund": (PaymentStatus.PARTIALLY_REFUNDED, order.total_amount, 5000),
    }[verb]
    assert (payment.status, payment.captured_amount, payment.refunded_amount) == expected


def test_a_void_that_finds_the_hold_gone_when_it_runs_is_refused_before_the_provider(
    order, run_tasks
):
    """Cancelled, then the hold lapsed before the worker ran: nothing to release."""
    order_cancel(order_id=order.pk)
    payment = payment_of(order)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.EXPIRED)

    with mock.patch.object(SandboxProvider, "void") as void:
        run_tasks()

    void.assert_not_called()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    assert (payment.needs_attention, payment.failure_code) == (True, "not_voidable")
    assert payment.failure_message.startswith("Nothing to release: payment is ")
    failure = payment.ledger.get(operation=LedgerOperation.VOID, event=LedgerEvent.FAILED)
    assert failure.error_code == "not_voidable"
    assert not CustomerEmail.objects.filter(kind=CustomerEmail.Kind.VOIDED).exists()


def test_money_moved_after_the_status_changed_meanwhile_stays_flagged_for_staff(order):
    """A capture went through at the provider but its answer was lost; before the retry
    the payment was marked voided. The retry learns the money moved: it is recorded, and
    the payment stays shown to staff (the same success does not clear the flag)."""
    shipment = order_ship(order_id=order.pk, carrier="colissimo")
    payment = payment_of(order)
    real_capture = SandboxProvider.capture

    def captured_then_lost(provider, request):
        real_capture(provider, request)
        raise ProviderUnavailable("The answer was lost.")

    with mock.patch.object(SandboxProvider, "capture", captured_then_lost):
        outcome = payment_capture(payment_id=payment.pk, idempotency_key=capture_key(shipment))
    assert outcome == OperationOutcome.RETRY_SCHEDULED
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.VOIDED)

    outcome = payment_capture(
        payment_id=payment.pk, idempotency_key=capture_key(shipment), attempt=2
    )

    assert outcome == OperationOutcome.SUCCEEDED
    payment.refresh_from_db()
    assert payment.captured_amount == order.total_amount
    assert payment.status == PaymentStatus.VOIDED
    assert (payment.needs_attention, payment.failure_code) == (True, "unexpected_status")


def test_every_refusal_the_shop_makes_itself_has_words_for_staff():
    """Codes the operations write on a payment are explained, not shown as a bare code."""
    sources = "".join(p.read_text() for p in Path("payments/operations").glob("*.py"))
    written = set(re.findall(r'(?:Refusal|flag)\(\s*(?:payment,\s*)?"([a-z_]+)"', sources))
    assert {"not_voidable", "captures_pending", "unexpected_status"} <= written
    assert written - set(FAILURE_TEXTS) == set()
