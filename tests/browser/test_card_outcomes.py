"""3-D Secure and fraud review in a browser, on a desktop and a phone."""

import re

import pytest
from playwright.sync_api import expect

from orders.models import Order, OrderStatus
from tests.browser.test_journey import buy
from tests.factories import ProductVariantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36"
    ),
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def device_page(request, browser, live_server):
    from tests.browser.conftest import _new_page

    yield from _new_page(browser, request, **request.param)


@pytest.fixture(autouse=True)
def dress():
    ProductVariantFactory(
        product__name="Robe portefeuille", product__price_amount=12900, size="M", stock=4
    )


def test_3d_secure_challenge_approved_then_failed(device_page, live_server):
    page = device_page
    buy(page, live_server.url, card="4000 0027 6000 3184")
    page.get_by_role("button", name=re.compile("Place order")).click()

    expect(page.get_by_role("heading", name="Confirm this payment")).to_be_visible()
    page.get_by_role("button", name="Fail the authentication").click()
    expect(page.locator(".message-error")).to_contain_text("could not confirm")
    expect(page.get_by_test_id("cart-link")).to_contain_text("2")

    page.get_by_role("radio", name=re.compile("^Card Visa")).check()
    page.get_by_role("button", name="Enter card details").click()
    page.wait_for_load_state("load")
    page.get_by_label("Card number").press_sequentially("4000002760003184")
    page.get_by_label("Expiry date (MM/YY)").fill("12/34")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name=re.compile("^Authorize")).click()
    page.get_by_role("button", name=re.compile("Place order")).click()
    page.get_by_role("button", name="Authenticate").click()

    expect(page.get_by_test_id("payment-promise")).to_contain_text("Nothing has been debited yet")
    assert Order.objects.filter(status=OrderStatus.CONFIRMED).count() == 1
    assert Order.objects.filter(status=OrderStatus.PAYMENT_FAILED).count() == 1


def test_fraud_review_shows_the_order_as_being_verified(device_page, live_server):
    page = device_page
    buy(page, live_server.url, card="4000 0000 0000 9235")
    page.get_by_role("button", name=re.compile("Place order")).click()

    expect(page.get_by_test_id("payment-promise")).to_contain_text("being verified")
    assert Order.objects.get().status == OrderStatus.IN_REVIEW


def test_back_from_3d_secure_then_another_card_is_charged_on_the_new_card(page, live_server):
    buy(page, live_server.url, card="4000 0027 6000 3184")
    page.get_by_role("button", name=re.compile("Place order")).click()
    expect(page.get_by_role("heading", name="Confirm this payment")).to_be_visible()

    page.go_back()  # the browser's Back: the review step
    expect(page.get_by_test_id("card")).to_contain_text("3184")
    page.goto(f"{live_server.url}/en/checkout/payment/")
    page.get_by_role("radio", name=re.compile("^Card Visa")).check()
    page.get_by_role("button", name=re.compile("Use another card|Enter card details")).click()
    page.wait_for_load_state("load")
    page.get_by_label("Card number").press_sequentially("4242424242424242")
    page.get_by_label("Expiry date (MM/YY)").fill("12/34")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name=re.compile("^Authorize")).click()
    expect(page.get_by_test_id("card")).to_contain_text("Visa •••• 4242")
    page.get_by_role("button", name=re.compile("Place order")).click()

    # No bank page for the first card: the order is placed on the second.
    expect(page.get_by_test_id("payment-promise")).to_contain_text("•••• 4242")
    expect(page.get_by_test_id("payment-promise")).not_to_contain_text("3184")
    placed = Order.objects.get(status=OrderStatus.CONFIRMED)
    assert placed.payments.get().card_last4 == "4242"
    assert Order.objects.get(status=OrderStatus.PAYMENT_FAILED).payments.get().card_last4 == "3184"
