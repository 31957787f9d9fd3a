"""Logs an operator can use: one structured line per payment event, a request id on every
line of a request, JSON with DEBUG off, and never a card number, security code, token,
client secret, key or password (scanned over full checkouts with every test card)."""

import io
import json
import logging
import re
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from orders.models import Order, OrderStatus
from orders.services import order_ship
from payments.models import CardSession, Payment
from payments.providers.sandbox.models import SandboxCardSession, SandboxCardToken
from payments.providers.sandbox.testcards import TEST_CARDS, Behaviour
from payments.services import payment_request_refund
from shop.logs import JsonFormatter, ReadableFormatter, RequestIdFilter
from tests.factories import ProductVariantFactory
from tests.helpers import DECLINED, place_order
from tests.shop.test_checkout import DETAILS, fill_cart, review_form
from tests.shop.test_checkout_stripe import back_from_stripe, options_of, payment_form
from tests.test_settings import PRODUCTION, manage

pytestmark = pytest.mark.django_db

EVENT_FIELDS = {
    "order_number",
    "payment_id",
    "operation",
    "idempotency_key",
    "outcome",
    "error_code",
    "provider_reference",
    "duration_ms",
}
CODE, AMEX_CODE = "735", "7351"
PASSWORD = "Staff-password-never-logged-42"


@pytest.fixture
def variant():
    return ProductVariantFactory(product__price_amount=12900, product__slug="robe", stock=100)


class Captured:
    """Every log line written while it is active, as JSON and as readable lines."""

    def __init__(self) -> None:
        self.json, self.readable = io.StringIO(), io.StringIO()
        self.handlers = []
        for stream, formatter in (
            (self.json, JsonFormatter()),
            (self.readable, ReadableFormatter()),
        ):
            handler = logging.StreamHandler(stream)
            handler.addFilter(RequestIdFilter())
            handler.setFormatter(formatter)
            self.handlers.append(handler)

    def __enter__(self) -> "Captured":
        root = logging.getLogger()
        self.level = root.level
        root.setLevel(logging.DEBUG)
        for handler in self.handlers:
            root.addHandler(handler)
        return self

    def __exit__(self, *exc_info) -> None:
        root = logging.getLogger()
        for handler in self.handlers:
            root.removeHandler(handler)
        root.setLevel(self.level)

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.json.getvalue().splitlines() if line.strip()]

    def text(self) -> str:
        return self.json.getvalue() + self.readable.getvalue()


def events(captured: Captured) -> list[dict]:
    return [line for line in captured.lines() if line["logger"] == "payments.events"]


def test_each_payment_event_is_one_structured_line(variant, run_tasks):
    with Captured() as captured:
        order = place_order({variant.pk: 1})
        shipment = order_ship(order_id=order.pk, carrier="colissimo", tracking_number="T1")
        run_tasks()
        payment = Payment.objects.get(order=order)
        payment_request_refund(payment_id=payment.pk, amount=500, request_token=str(uuid.uuid4()))
        run_tasks()

    lines = events(captured)
    assert [(line["operation"], line["outcome"]) for line in lines] == [
        ("authorize", "succeeded"),
        ("capture", "succeeded"),
        ("refund", "succeeded"),
    ]
    for line in lines:
        assert line.keys() >= EVENT_FIELDS
        assert line["order_number"] == order.number
        assert line["payment_id"] == payment.pk
        assert line["provider_reference"]
        assert isinstance(line["duration_ms"], float)
    assert lines[0]["idempotency_key"] == f"authorize-payment-{payment.pk}"
    assert lines[1]["idempotency_key"] == f"capture-shipment-{shipment.pk}-payment-{payment.pk}"


def test_a_decline_is_logged_with_its_code(variant):
    with Captured() as captured, pytest.raises(Exception):  # noqa: B017
        place_order({variant.pk: 1}, number=DECLINED)
    (line,) = events(captured)
    assert (line["outcome"], line["error_code"]) == ("declined", "card_declined")
    assert line["order_number"] == Order.objects.get().number


def test_every_line_of_a_request_carries_its_request_id(client, variant):
    with Captured() as captured:
        fill_cart(client, variant)
        client.post(reverse("shop:checkout_details"), DETAILS)
        client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
        card_page = client.post(reverse("shop:checkout_payment")).url
        back = client.post(
            card_page, {"number": DECLINED, "expiry": "12/34", "security_code": CODE}
        )
        client.get(back.url)
        captured.json.truncate(0)
        captured.json.seek(0)
        response = client.post(reverse("shop:checkout_review"), review_form(client))

    request_id = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    lines = captured.lines()
    assert any(line["logger"] == "payments.events" for line in lines)
    assert {line["request_id"] for line in lines} == {request_id}


def test_a_proxys_request_id_is_kept_and_a_strange_one_replaced(client):
    assert client.get("/", HTTP_X_REQUEST_ID="edge-1234abcd")["X-Request-ID"] == "edge-1234abcd"
    assert client.get("/", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"] != "<script>"


def test_lines_are_json_with_debug_off_and_readable_in_development():
    script = (
        "from django.conf import settings;"
        "h=settings.LOGGING['handlers']['console'];print(h['formatter'], h['filters'])"
    )
    production = manage("shell", "-c", script, **PRODUCTION)
    development = manage("shell", "-c", script)
    assert production.stdout.splitlines()[-1] == "json ['request_id']", production.stderr
    assert development.stdout.splitlines()[-1].startswith("readable"), development.stderr


def buy(client: Client, variant, number: str, code: str):
    """A whole checkout through HTTP with one card, the bank's page included."""
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS | {"email": f"{number}@example.com"})
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
    card_page = client.post(reverse("shop:checkout_payment")).url
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    back = client.post(card_page, {"number": spaced, "expiry": "12/34", "security_code": code})
    client.get(back.url)
    response = client.post(reverse("shop:checkout_review"), review_form(client))
    if response.url.startswith("/sandbox/3ds/"):
        client.get(response.url)
        response = client.post(response.url, {"outcome": "approve"})
        client.get(response.url, follow=True)


def secrets_in(text: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret and secret in text]


def card_number_patterns() -> list[re.Pattern]:
    return [re.compile(r"[ -]?".join(number)) for number in TEST_CARDS]


def code_pattern(code: str) -> re.Pattern:
    # Not inside another number or word, and not a log line's milliseconds ("12:04:05,735").
    return re.compile(rf"(?<![0-9A-Za-z])(?<!:[0-9][0-9][,.]){code}(?![0-9A-Za-z.])")


def test_the_code_pattern_finds_a_logged_code_but_not_a_timestamp():
    assert code_pattern(CODE).search(f"card cvc={CODE} sent")
    assert code_pattern(CODE).search(f'{{"cvc": "{CODE}"}}')
    assert not code_pattern(CODE).search(f"2026-12-02 01:40:07,{CODE} INFO [-] payments")


def test_a_full_checkout_with_every_test_card_logs_no_secret(variant, settings, run_tasks):
    User = get_user_model()
    User.objects.create_user("staff", password=PASSWORD, is_staff=True, is_superuser=True)
    with Captured() as captured:
        for i, number in enumerate(TEST_CARDS):
            buy(
                Client(REMOTE_ADDR=f"10.9.0.{i}"),
                variant,
                number,
                AMEX_CODE if number[0] == "3" else CODE,
            )
        staff = Client()
        staff.post(reverse("admin:login"), {"username": "staff", "password": "wrong" + PASSWORD})
        staff.post(reverse("admin:login"), {"username": "staff", "password": PASSWORD})
        for order in Order.objects.filter(status=OrderStatus.CONFIRMED):
            order_ship(order_id=order.pk, carrier="colissimo", tracking_number="T")
        run_tasks()

    text = captured.text()
    assert len(events(captured)) >= len(TEST_CARDS)  # the scan saw the payment events
    assert {Behaviour.THREE_DS, Behaviour.DECLINE} <= {c.behaviour for c in TEST_CARDS.values()}
    found = [p.pattern for p in card_number_patterns() if p.search(text)]
    found += [code for code in (CODE, AMEX_CODE) if code_pattern(code).search(text)]
    found += secrets_in(
        text,
        [
            PASSWORD,
            settings.SECRET_KEY,
            *SandboxCardToken.objects.values_list("id", flat=True),
            *SandboxCardSession.objects.values_list("id", flat=True),
            *CardSession.objects.values_list("payment_token", flat=True),
        ],
    )
    assert not found


def test_a_stripe_checkout_logs_no_token_client_secret_or_key(
    client, stripe_fake, variant, settings
):
    with Captured() as captured:
        fill_cart(client, variant)
        client.post(reverse("shop:checkout_details"), DETAILS)
        client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
        options = options_of(payment_form(client).content.decode())
        back_from_stripe(client, stripe_fake, options, "pm_card_authenticationRequired")
        response = client.post(reverse("shop:checkout_review"), review_form(client))
        client.get(response.url)
        payment = Payment.objects.get()
        stripe_fake.complete_action(payment.provider_reference)
        client.get(reverse("shop:checkout_authentication_return"))

    intent = stripe_fake.get(payment.provider_reference)
    text = captured.text()
    assert [line["outcome"] for line in events(captured)] == ["requires_action", "succeeded"]
    assert not secrets_in(
        text,
        [
            intent["client_secret"],
            settings.STRIPE_SECRET_KEY,
            settings.STRIPE_WEBHOOK_SECRET,
            *CardSession.objects.values_list("payment_token", flat=True),
        ],
    )


def test_the_filter_redacts_secrets_whatever_logs_them():
    record = logging.LogRecord(
        "x",
        logging.WARNING,
        __file__,
        1,
        "card %s token %s secret %s key %s",
        (
            "4242 4242 4242 4242",
            "tok_0123456789abcdef01234567",
            "pi_1_secret_abc",
            "sk_test_abc123",
        ),
        None,
    )
    RequestIdFilter().filter(record)
    message = record.getMessage()
    assert "4242" not in message and "tok_" not in message and "secret_abc" not in message
    assert "sk_test" not in message
    assert message.count("[redacted]") == 4
