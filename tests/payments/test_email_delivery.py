"""Every kind of customer e-mail, in French and English, through a real SMTP server.

aiosmtpd listens on localhost; the shop's SMTP backend sends to it, and the
test reads what arrived: a multipart message with a plain-text and an HTML
part, the boutique's look inlined, and the signed link to the order's page.
"""

import email
import email.policy
import re
import socket

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from orders.links import order_page_path
from orders.services import order_ship
from payments.emails import customer_email_queue, customer_email_send
from payments.models import CustomerEmail, LedgerOperation, PaymentLedgerEntry
from payments.operations import keys
from tests.factories import ProductVariantFactory
from tests.helpers import place_order

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted"


@pytest.fixture
def smtp_server(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
        }
    }
    yield inbox
    controller.stop()


def every_kind(language: str) -> list[CustomerEmail]:
    """An order in ``language``, shipped, and one queued e-mail of every kind about it."""
    variant = ProductVariantFactory(product__name="Robe portefeuille", product__price_amount=12900)
    order = place_order({variant.pk: 1}, language=language)
    shipment = order_ship(order_id=order.pk, carrier="colissimo", tracking_number="6A12345678901")
    capture = PaymentLedgerEntry.objects.get(
        shipment=shipment, operation=LedgerOperation.CAPTURE, event="requested"
    )
    queued = {
        CustomerEmail.Kind.CAPTURED: {"ledger_entry": capture, "key": f"captured-{capture.pk}"},
        CustomerEmail.Kind.SHIPPED_PAID: {"key": keys.email_shipped_paid(shipment.pk)},
    }
    for kind in CustomerEmail.Kind.values:
        if kind == CustomerEmail.Kind.PLACED:
            continue  # queued by the placement itself
        options = queued.get(kind, {"key": f"{kind}-{order.pk}"})
        customer_email_queue(kind=kind, order_id=order.pk, amount=order.total_amount, **options)
    emails = list(CustomerEmail.objects.filter(order=order))
    assert sorted(e.kind for e in emails) == sorted(CustomerEmail.Kind.values)
    return emails


WORDS = {
    "fr": {"hello": "Bonjour Claire Dubois", "see": "Voir la commande"},
    "en": {"hello": "Hello Claire Dubois", "see": "See order"},
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_kind_arrives_as_text_and_html_with_the_order_link(smtp_server, language):
    emails = every_kind(language)
    for queued in emails:
        assert customer_email_send(email_id=queued.pk) is True

    assert len(smtp_server.messages) == len(CustomerEmail.Kind.values)
    order = emails[0].order
    link = order_page_path(order)
    for message in smtp_server.messages:
        kind = message["X-Shop-Email-Key"]
        assert message["To"] == "claire@example.com"
        assert order.number in message["Subject"], kind
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert WORDS[language]["hello"] in text, kind
        assert f'<html lang="{language}">' in html, kind
        assert WORDS[language]["see"] in html, kind
        # The signed link to the order's page, in both parts.
        assert link in text and link.replace("&", "&amp;") in html, kind
        # The boutique's look travels inlined: no class left to a stylesheet.
        assert 'class="email-' not in html
        assert re.search(r'style="[^"]*background: #7a2e3b', html), kind
        assert "{%" not in text and "{{" not in html

    shipping = [
        m
        for m in smtp_server.messages
        if m["X-Shop-Email-Key"].startswith(("captured-", "shipped-paid-"))
    ]
    assert len(shipping) == 2
    for message in shipping:
        for part in ("plain", "html"):
            body = message.get_body((part,)).get_content()
            assert "Colissimo" in body and "6A12345678901" in body
            assert "laposte.fr" in body


def test_the_link_in_the_email_opens_the_order_page_and_a_forged_one_does_not(smtp_server):
    every_kind("en")
    placed = CustomerEmail.objects.get(kind=CustomerEmail.Kind.PLACED)
    customer_email_send(email_id=placed.pk)
    text = smtp_server.messages[0].get_body(("plain",)).get_content()
    url = re.search(r"http://\S+/orders/\S+", text)[0]
    path = url.split("://", 1)[1].partition("/")[2]

    browser = Client()  # another browser: no session
    page = browser.get("/" + path)
    assert page.status_code == 200
    assert placed.order.number in page.content.decode()

    forged = browser.get("/" + re.sub(r"sig=.*", "sig=forged", path))
    unknown = browser.get("/en/orders/00000000-0000-4000-8000-000000000000/?" + path.split("?")[1])
    assert forged.status_code == unknown.status_code == 404
