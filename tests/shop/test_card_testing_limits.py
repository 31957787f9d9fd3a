"""Card testing is stopped: payment attempts are limited per session, IP, e-mail, card,
and the shop's declines per minute; a blocked attempt never reaches the provider."""

import os

import environ
import pytest
import redis
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from orders.models import Order, OrderStatus
from payments.providers.sandbox.models import SandboxCharge
from shop.checkout import limits
from shop.models import BlockedCheckoutAttempt
from tests.factories import ProductVariantFactory
from tests.helpers import APPROVED_VISA, DECLINED, INSUFFICIENT_FUNDS
from tests.shop.test_checkout import DETAILS, enter_card, fill_cart, review_form

pytestmark = pytest.mark.django_db

DECLINING = [DECLINED, INSUFFICIENT_FUNDS, "4000000000000101", "4000000000000069"]


@pytest.fixture
def variant():
    return ProductVariantFactory(product__price_amount=12900, product__slug="robe", stock=100)


def attempt(client, variant, number, *, expiry="12/34", email=DETAILS["email"]):
    """One go at paying, as a card-testing script does it: card page, then Place order."""
    if not client.session.get("cart"):
        fill_cart(client, variant)
    assert client.post(reverse("shop:checkout_details"), DETAILS | {"email": email}).url
    assert client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"}).url
    response = enter_card(client, number, expiry=expiry)
    assert response.url == reverse("shop:checkout_review")
    return client.post(reverse("shop:checkout_review"), review_form(client))


def blocked(response) -> bool:
    return response.status_code == 429


def test_a_burst_of_declines_from_one_session_is_stopped_at_the_limit(client, variant, english):
    sessions_limit = 5
    responses = []
    for i in range(8):  # a new card each time, as a tester does
        expiry = f"{1 + i % 12:02d}/3{i // 12 + 4}"
        responses.append(attempt(client, variant, DECLINING[i % 4], expiry=expiry))
        if blocked(responses[-1]):
            break

    assert [blocked(r) for r in responses] == [False] * sessions_limit + [True]
    refusal = responses[-1]
    assert 1 <= int(refusal["Retry-After"]) <= 15 * 60
    assert "Too many payment attempts" in refusal.content.decode()
    assert Order.objects.count() == SandboxCharge.objects.count() == sessions_limit
    assert BlockedCheckoutAttempt.objects.get().limit == "session"


def test_a_shopper_with_one_decline_then_a_good_card_pays(client, variant):
    first = attempt(client, variant, DECLINED)
    assert first.url == reverse("shop:checkout_payment")
    second = attempt(client, variant, APPROVED_VISA)
    order = Order.objects.get(status=OrderStatus.CONFIRMED)
    assert second.url == reverse("shop:order_confirmation", kwargs={"token": order.token})
    assert not BlockedCheckoutAttempt.objects.exists()


def test_the_same_card_is_limited_across_sessions_and_addresses(variant, settings):
    responses = [
        attempt(Client(REMOTE_ADDR=f"10.0.0.{i}"), variant, DECLINED, email=f"s{i}@example.com")
        for i in range(5)
    ]
    assert [blocked(r) for r in responses] == [False, False, False, True, True]
    assert SandboxCharge.objects.count() == 3


def test_one_address_is_limited_across_sessions(variant, settings):
    settings.CHECKOUT_ATTEMPT_LIMITS = settings.CHECKOUT_ATTEMPT_LIMITS | {"ip": (2, 3600)}
    responses = [
        attempt(Client(), variant, DECLINING[i], email=f"s{i}@example.com") for i in range(3)
    ]
    assert [blocked(r) for r in responses] == [False, False, True]
    row = BlockedCheckoutAttempt.objects.get()
    assert (row.limit, row.ip_address, row.email) == ("ip", "127.0.0.1", "s2@example.com")


def test_one_email_is_limited_across_sessions_and_addresses(variant, settings):
    settings.CHECKOUT_ATTEMPT_LIMITS = settings.CHECKOUT_ATTEMPT_LIMITS | {"email": (2, 3600)}
    responses = [
        attempt(Client(REMOTE_ADDR=f"10.0.1.{i}"), variant, DECLINING[i], email="T@example.com")
        for i in range(3)
    ]
    assert [blocked(r) for r in responses] == [False, False, True]


def test_the_shops_declines_per_minute_have_a_ceiling(variant, settings):
    settings.CHECKOUT_ATTEMPT_LIMITS = settings.CHECKOUT_ATTEMPT_LIMITS | {"declines": (3, 60)}
    responses = [
        attempt(
            Client(REMOTE_ADDR=f"10.0.2.{i}"),
            variant,
            DECLINING[i % 4],
            expiry=f"0{i + 1}/34",
            email=f"g{i}@example.com",
        )
        for i in range(5)
    ]
    assert [blocked(r) for r in responses] == [False, False, False, True, True]
    assert {row.limit for row in BlockedCheckoutAttempt.objects.all()} == {"declines"}
    assert SandboxCharge.objects.count() == 3


def test_after_retry_after_seconds_the_shopper_can_pay(client, variant, settings, monkeypatch):
    settings.CHECKOUT_ATTEMPT_LIMITS = settings.CHECKOUT_ATTEMPT_LIMITS | {"session": (1, 600)}
    now = [1_000_000_300.0]
    monkeypatch.setattr(limits.time, "time", lambda: now[0])
    attempt(client, variant, DECLINED)
    refusal = attempt(client, variant, APPROVED_VISA)
    assert blocked(refusal)
    wait = int(refusal["Retry-After"])

    now[0] += wait - 2
    assert blocked(client.post(reverse("shop:checkout_review"), review_form(client)))
    now[0] += 2
    response = client.post(reverse("shop:checkout_review"), review_form(client))
    assert response.status_code == 302
    assert Order.objects.filter(status=OrderStatus.CONFIRMED).count() == 1
    assert BlockedCheckoutAttempt.objects.get().count == 2


def test_staff_see_blocked_attempts_with_their_count_ip_and_email(admin_client, variant, settings):
    settings.CHECKOUT_ATTEMPT_LIMITS = settings.CHECKOUT_ATTEMPT_LIMITS | {"session": (1, 600)}
    shopper = Client(REMOTE_ADDR="203.0.113.9")
    attempt(shopper, variant, DECLINED, email="tester@example.com")
    for _ in range(3):
        assert blocked(attempt(shopper, variant, DECLINED, email="tester@example.com"))

    page = admin_client.get(reverse("admin:shop_blockedcheckoutattempt_changelist"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "203.0.113.9" in text and "tester@example.com" in text
    assert BlockedCheckoutAttempt.objects.get().count == 3
    assert admin_client.get(reverse("admin:shop_blockedcheckoutattempt_add")).status_code == 403


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(settings, rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    assert limits.client_ip(request) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert limits.client_ip(request) == "198.51.100.7"


def redis_url() -> str:
    """Redis for the shared-counter test (``TEST_REDIS_URL``, default the machine's DB 7)."""
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


def redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(redis_url(), socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(
    not redis_reachable() and os.environ.get("CI") != "true",
    reason="no Redis at TEST_REDIS_URL (CI starts one and runs this test)",
)
def test_the_counters_are_shared_through_redis(variant, settings):
    settings.CACHES = {"default": {**environ.Env.cache_url_config(redis_url())}}
    settings.CHECKOUT_ATTEMPT_LIMITS = settings.CHECKOUT_ATTEMPT_LIMITS | {"ip": (2, 3600)}
    cache.clear()
    try:
        responses = [
            attempt(Client(), variant, DECLINING[i], email=f"r{i}@example.com") for i in range(3)
        ]
        assert [blocked(r) for r in responses] == [False, False, True]
        assert list(redis_client().scan_iter(match=":1:checkout-limit:ip:*"))
    finally:
        cache.clear()


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(redis_url())
