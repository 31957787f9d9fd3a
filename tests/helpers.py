"""Helpers shared by tests: run the worker, and reach an authorized order through services."""

import contextlib
import uuid
from unittest import mock

from django.core import mail
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from orders.models import Order
from orders.services import CustomerDetails
from payments.exceptions import PaymentError
from payments.models import CustomerEmail, LedgerEvent, LedgerOperation, PaymentLedgerEntry
from payments.providers.sandbox import gateway
from payments.providers.sandbox.testcards import TEST_CARDS
from payments.services import payment_card_session_read, payment_card_session_start
from shop.checkout.services import PaymentChoice, checkout_place_order

APPROVED_VISA = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"


def run_tasks() -> int:
    """Run all ready tasks with the real db_worker loop, in this thread; returns how many ran."""
    before = DBTaskResult.objects.exclude(status="READY").count()
    worker = db_worker.Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    # The worker closes "old" connections between tasks; inside a test
    # transaction that would close the test's own connection.
    with mock.patch.object(db_worker, "close_old_connections"):
        worker.run()
    return DBTaskResult.objects.exclude(status="READY").count() - before


def card_token(number: str = APPROVED_VISA, *, reference: str = "test") -> tuple[str, object]:
    """Fill in the sandbox's hosted card form as a shopper would; returns (token, card).

    The card session is opened for the checkout ``reference`` (a checkout token).
    """
    session = payment_card_session_start(
        reference=reference,
        amount=1000,
        currency="EUR",
        return_url="http://testserver/checkout/payment/return/",
        cancel_url="http://testserver/checkout/payment/",
        language="fr",
    )
    brand = TEST_CARDS[number].brand
    gateway.session_complete(
        session_id=session.session_id, number=number, brand=brand, exp_month=12, exp_year=2099
    )
    completed = payment_card_session_read(reference=reference, session_id=session.session_id)
    return completed.payment_token, completed.card


def customer(**overrides) -> CustomerDetails:
    values = {
        "email": "claire@example.com",
        "full_name": "Claire Dubois",
        "address_line1": "12 rue des Lilas",
        "postal_code": "75011",
        "city": "Paris",
        "country": "FR",
    }
    return CustomerDetails(**(values | overrides))


def place_order(quantities: dict[int, int], *, number: str = APPROVED_VISA, **kwargs) -> Order:
    """Place and authorize an order through the checkout service."""
    checkout_token = kwargs.pop("checkout_token", uuid.uuid4())
    token, card = card_token(number, reference=str(checkout_token))
    order = checkout_place_order(
        checkout_token=checkout_token,
        quantities=quantities,
        customer=customer(),
        shipping_method=kwargs.pop("shipping_method", "standard"),
        language=kwargs.pop("language", "fr"),
        payment=PaymentChoice(method="card", payment_token=token, card=card),
    ).order
    order.refresh_from_db()
    return order


def capture_key(shipment) -> str:
    """The idempotency key of the capture requested for a parcel."""
    return (
        PaymentLedgerEntry.objects.filter(
            shipment=shipment, operation=LedgerOperation.CAPTURE, event=LedgerEvent.REQUESTED
        )
        .latest("pk")
        .idempotency_key
    )


STRIPE_RETURN_URL = "http://testserver/checkout/authentication/return/"


def stripe_order(
    fake, quantities: dict[int, int], payment_method: str = "pm_card_visa", wallet=None
) -> Order:
    """Place an order paid through the Stripe provider (``fake``: the in-memory Stripe).

    The ConfirmationToken is what the Payment Element makes in the browser;
    the rest is what the checkout does. A decline leaves the order declined.
    """
    checkout_token = uuid.uuid4()
    payment_card_session_start(
        reference=str(checkout_token),
        amount=1000,
        currency="EUR",
        return_url="http://testserver/checkout/payment/return/",
        cancel_url="http://testserver/checkout/payment/",
        language="fr",
    )
    completed = payment_card_session_read(
        reference=str(checkout_token),
        session_id=fake.create_confirmation_token(payment_method, wallet),
    )
    with contextlib.suppress(PaymentError):
        checkout_place_order(
            checkout_token=checkout_token,
            quantities=quantities,
            customer=customer(),
            shipping_method="standard",
            language="fr",
            payment=PaymentChoice(
                method=completed.method, payment_token=completed.payment_token, card=completed.card
            ),
            return_url=STRIPE_RETURN_URL,
        )
    return Order.objects.get(checkout_token=checkout_token)


def send_placed_emails() -> None:
    """Run the tasks the placement queued (its e-mail), and clear the outbox.

    For tests about what follows the placement: the shopper has had the
    order's e-mail, and the test reads only what comes next.
    """
    run_tasks()
    assert all(e.sent_at for e in CustomerEmail.objects.filter(kind=CustomerEmail.Kind.PLACED))
    mail.outbox.clear()
