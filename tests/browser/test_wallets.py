"""Apple Pay on an iPhone with Safari, Google Pay on Android with Chrome, in a browser."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from orders.models import Order, OrderStatus
from tests.browser.test_accessibility import no_horizontal_scroll
from tests.browser.test_journey import add_dress_and_checkout
from tests.factories import ProductVariantFactory
from tests.payments.test_methods import ANDROID_CHROME, IPHONE_SAFARI

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("user_agent", "wallet"),
    [(IPHONE_SAFARI, "Apple Pay"), (ANDROID_CHROME, "Google Pay")],
    ids=["apple-pay", "google-pay"],
)
def test_a_phone_pays_with_its_wallet(browser, request, live_server, user_agent, wallet):
    from tests.browser.conftest import _new_page

    ProductVariantFactory(
        product__name="Robe portefeuille", product__price_amount=12900, size="M", stock=4
    )
    pages = _new_page(
        browser,
        request,
        viewport={"width": 390, "height": 844},
        user_agent=user_agent,
        is_mobile=True,
        has_touch=True,
    )
    page = next(pages)
    try:
        add_dress_and_checkout(page, live_server.url)

        page.get_by_label(wallet).check()
        page.get_by_role("button", name=f"Pay with {wallet}").click()
        expect(page.get_by_test_id("wallet-card")).to_contain_text("Visa •••• 1881")
        assert Axe().run(page).violations_count == 0
        page.get_by_role("button", name=f"Confirm with {wallet}").click()

        expect(page.get_by_test_id("card")).to_contain_text(f"{wallet} (Visa •••• 1881)")
        page.get_by_role("button", name=re.compile("Place order")).click()
        expect(page.get_by_test_id("payment-promise")).to_contain_text(
            f"€135.90 is held on your {wallet} (Visa •••• 1881)"
        )
        assert Order.objects.get().status == OrderStatus.CONFIRMED
    finally:
        next(pages, None)


@pytest.mark.parametrize(
    ("service", "promise"),
    [
        ("PayPal", "€135.90 is authorized on your PayPal account. Nothing has been debited yet."),
        ("Alipay", "You paid €135.90 with Alipay."),
    ],
)
def test_a_shopper_pays_on_paypals_or_alipays_page(page, live_server, service, promise):
    ProductVariantFactory(
        product__name="Robe portefeuille", product__price_amount=12900, size="M", stock=4
    )
    add_dress_and_checkout(page, live_server.url)
    page.get_by_label(service).check()
    page.get_by_role("button", name=f"Continue to {service}").click()

    expect(page.get_by_test_id("wallet-account")).to_contain_text(service)
    expect(page.get_by_test_id("merchant")).to_contain_text("Boutique")
    assert Axe().run(page).violations_count == 0
    for width in (320, 375):  # the service's page fits a phone
        page.set_viewport_size({"width": width, "height": 740})
        no_horizontal_scroll(page, f"{service} page at {width} px")
    page.get_by_role("button", name=f"Confirm with {service}").click()
    expect(page.get_by_test_id("card")).to_have_text(re.compile(rf"^\s*{service}"))
    page.get_by_role("button", name=re.compile("Place order")).click()

    expect(page.get_by_test_id("payment-promise")).to_contain_text(promise)
