"""No card number or security code reaches a log line, whatever the card does.

Every sandbox test card (and numbers the card page refuses) goes through the
whole checkout over HTTP: the card page, 3-D Secure, placing the order, then
shipping and the worker's capture and e-mail. Every log record of every
logger, at every level, is kept, as is anything printed; none may hold the
number typed (with or without its spaces), any other number that looks like
a card (13 to 19 digits passing the Luhn check), or the security code.
"""

import logging
import re

import pytest
from django.urls import reverse

from orders.models import Order, OrderStatus
from orders.services import order_ship
from payments.providers.sandbox.testcards import TEST_CARDS, luhn_valid
from tests.factories import ProductVariantFactory
from tests.shop.test_checkout import DETAILS, fill_cart, review_form

pytestmark = pytest.mark.django_db

# Distinctive codes, so that finding one in a log line means it was logged.
CODE = {3: "739", 4: "7391"}
# Refused by the card page: a real card's number (not a test card), a typo (Luhn), a brand
# the shop does not accept.
REFUSED = ["4111111111111111", "4242424242424241", "6011111111111117"]


STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class KeepEverything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The formatted line (with any traceback) and the extras a call passed.
        extras = {key: value for key, value in vars(record).items() if key not in STANDARD}
        self.lines.append(f"{self.format(record)} {extras!r}")


@pytest.fixture
def every_log_record():
    """All records of all loggers at DEBUG and above, for the length of the test."""
    handler = KeepEverything()
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is loggers[0] or not logger.propagate:
            logger.addHandler(handler)
    yield handler.lines
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled
        logger.removeHandler(handler)


def grouped(number: str) -> str:
    """As a shopper types it: groups of four (4-6-5 for American Express)."""
    if len(number) == 15:
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def leaks(text: str, number: str, code: str) -> list[str]:
    found = []
    digits = re.sub(r"(?<=\d)[ -](?=\d)", "", text)
    if number in digits:
        found.append(f"card number {number}")
    # Runs of digits standing alone (not inside a hexadecimal id), spaces and dashes allowed.
    for run in re.findall(r"(?<![\w.,])\d(?:[ -]?\d){12,18}(?![\w.,])", text):
        if luhn_valid(compact := re.sub(r"[ -]", "", run)):
            found.append(f"a card-like number {compact}")
    if re.search(rf"(?<![\w.,-]){code}(?![\w.,-])", text):
        found.append(f"security code {code}")
    return found


def checkout(client, variant, number: str, code: str) -> None:
    """The shopper's whole journey with this card, and the worker's capture when it ships."""
    fill_cart(client, variant)
    assert client.post(reverse("shop:checkout_details"), DETAILS).status_code == 302
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
    card_page = client.post(reverse("shop:checkout_payment")).url
    assert card_page.startswith("/sandbox/pay/")
    assert client.get(card_page).status_code == 200
    response = client.post(
        card_page, {"number": grouped(number), "expiry": "12/34", "security_code": code}
    )
    if response.status_code != 302:
        return  # refused on the card page
    client.get(response.url)  # back at the shop
    response = client.post(reverse("shop:checkout_review"), review_form(client))
    if response.url.startswith("/sandbox/3ds/"):
        client.get(response.url)
        response = client.post(response.url, {"outcome": "approve"})
    client.get(response.url, follow=True)


@pytest.mark.parametrize("number", [*TEST_CARDS, *REFUSED])
def test_no_card_number_or_security_code_in_any_log_record(
    client, every_log_record, capsys, run_tasks, number
):
    variant = ProductVariantFactory(product__price_amount=12900, stock=3)
    code = CODE[4 if number.startswith(("34", "37")) else 3]

    checkout(client, variant, number, code)
    order = Order.objects.filter(status=OrderStatus.CONFIRMED).first()
    if order is not None:
        order_ship(order_id=order.pk, carrier="colissimo", tracking_number="6A123")
    run_tasks()

    assert Order.objects.exists() == (number in TEST_CARDS)  # the journey went through
    assert every_log_record, "the records are captured (the worker logs each task)"
    printed = capsys.readouterr()
    found = [
        f"{problem} in: {line[:300]}"
        for line in [*every_log_record, printed.out, printed.err]
        for problem in leaks(line, number, code)
    ]
    assert found == []
