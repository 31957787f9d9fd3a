"""Every customer e-mail, rendered in French and in English, differs on every line of prose.

A sentence left out of ``{% translate %}`` comes out the same in both
languages: here every kind of e-mail is sent for an order placed in French
and for one placed in English, in the templates' branches (card or PayPal,
with a tracking number or without, all cancelled or only the rest), and no
line of the one may equal a line of the other once names, numbers and
amounts are taken out.
"""

import re
import uuid

import pytest
from django.core import mail
from django.utils.html import strip_tags

from orders.services import order_cancel, order_place, order_ship
from payments.emails import customer_email_queue
from payments.models import CustomerEmail, LedgerOperation, Payment
from payments.providers.sandbox import gateway
from payments.services import (
    payment_authorize,
    payment_card_session_read,
    payment_card_session_start,
    payment_create_for_order,
)
from tests.factories import ProductVariantFactory
from tests.helpers import customer, place_order
from tests.shop.test_page_translations import made_of, same_in_french

pytestmark = pytest.mark.django_db

# Names that are the same in every language.
PROPER_NAMES = ["Colissimo", "PayPal", "Visa"]


def card_order_partly_shipped(language: str, run_tasks):
    """Paid by card, one parcel shipped with a tracking number, the rest cancelled."""
    first, second = ProductVariantFactory(), ProductVariantFactory()
    order = place_order({first.pk: 1, second.pk: 1}, language=language)
    line = order.lines.get(variant=first)
    order_ship(order_id=order.pk, carrier="colissimo", tracking_number="6A123", lines={line.pk: 1})
    run_tasks()
    order_cancel(order_id=order.pk)
    run_tasks()
    capture = Payment.objects.get(order=order).ledger.get(
        operation=LedgerOperation.CAPTURE, event="requested"
    )
    return order, capture


def paypal_order_cancelled(language: str, run_tasks):
    """Paid with PayPal (no card digits), cancelled before anything shipped."""
    order = order_place(
        checkout_token=uuid.uuid4(),
        quantities={ProductVariantFactory().pk: 1},
        customer=customer(),
        shipping_method="standard",
        language=language,
    )
    reference = str(order.checkout_token)
    session = payment_card_session_start(
        reference=reference,
        amount=order.total_amount,
        currency="EUR",
        return_url="http://testserver/checkout/payment/return/",
        cancel_url="http://testserver/checkout/payment/",
        language=language,
        method="paypal",
    )
    gateway.session_complete_wallet(session_id=session.session_id)
    completed = payment_card_session_read(reference=reference, session_id=session.session_id)
    payment = payment_create_for_order(
        order_id=order.pk,
        payment_token=completed.payment_token,
        card=completed.card,
        method=completed.method,
    )
    payment_authorize(payment_id=payment.pk)
    order_cancel(order_id=order.pk)
    run_tasks()
    return order, None


def every_kind(order, ledger_entry, run_tasks) -> dict[str, mail.EmailMessage]:
    """Each kind of customer e-mail about ``order``, as sent."""
    sent = {}
    for kind in CustomerEmail.Kind.values:
        mail.outbox.clear()
        customer_email_queue(
            key=f"translation-check-{kind}-{order.pk}",
            kind=kind,
            order_id=order.pk,
            ledger_entry=ledger_entry,
            amount=1234,
        )
        run_tasks()
        [sent[kind]] = mail.outbox
    return sent


def prose(message: mail.EmailMessage, order) -> set[str]:
    """The lines of the subject, the text and the HTML, without names, numbers or amounts."""
    html = message.alternatives[0][0] if message.alternatives else ""
    lines = [message.subject, *message.body.splitlines(), *strip_tags(html).splitlines()]
    # The order's own data (a snapshot taken in the shopper's language) is not prose.
    data = [line.product_name for line in order.lines.all()] + [order.shipping_method_name]
    names = [order.number, order.full_name, order.email, "6A123", *data, *PROPER_NAMES]
    result = set()
    for line in lines:
        line = re.sub(r"https?://\S+", " ", line)
        for name in names:
            line = line.replace(name, " ")
        line = " ".join(re.sub(r"[\W\d_]+", " ", line).split()).lower()
        if re.search(r"[^\W\d_]{2}", line):
            result.add(line)
    return result


@pytest.mark.parametrize("situation", [card_order_partly_shipped, paypal_order_cancelled])
def test_every_email_kind_differs_between_french_and_english_on_every_line(situation, run_tasks):
    french_order, french_entry = situation("fr", run_tasks)
    english_order, english_entry = situation("en", run_tasks)

    french = every_kind(french_order, french_entry, run_tasks)
    english = every_kind(english_order, english_entry, run_tasks)

    # Words the French catalogue translates as themselves ("Total", "Contact").
    identical = same_in_french()
    untranslated = {}
    for kind in CustomerEmail.Kind.values:
        french_lines = prose(french[kind], french_order)
        english_lines = prose(english[kind], english_order)
        assert french_lines and english_lines, kind
        shared = {line for line in french_lines & english_lines if not made_of(line, identical)}
        if shared:
            untranslated[kind] = sorted(shared)
    assert untranslated == {}
