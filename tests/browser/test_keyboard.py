"""The whole checkout with the keyboard alone (Tab, Space, Enter), the card page included."""

import pytest
from playwright.sync_api import expect

from orders.models import Order, OrderStatus
from tests.factories import ProductVariantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focus is on ``selector``; fail if it never gets there."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def follow(page, key: str) -> None:
    """Press ``key`` on the focused link or button and wait for the next page."""
    with page.expect_navigation():
        page.keyboard.press(key)
    page.wait_for_load_state("load")


def type_into(page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


@pytest.mark.parametrize(
    "viewport", [{"width": 375, "height": 740}, {"width": 1280, "height": 900}]
)
def test_a_shopper_checks_out_with_the_keyboard_alone(browser, live_server, viewport):
    ProductVariantFactory(
        product__name="Robe portefeuille", product__price_amount=12900, size="M", stock=4
    )
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/")
        tab_to(page, ".product-card-link")
        follow(page, "Enter")

        tab_to(page, "input[name=variant]:not([disabled])")
        page.keyboard.press("Space")
        tab_to(page, "form.add-to-cart [type=submit]")
        follow(page, "Enter")

        tab_to(page, "main a.button-primary")  # to the checkout
        follow(page, "Enter")

        type_into(page, "#id_email", "claire@example.com")
        type_into(page, "#id_full_name", "Claire Dubois")
        type_into(page, "#id_address_line1", "12 rue des Lilas")
        type_into(page, "#id_postal_code", "75011")
        type_into(page, "#id_city", "Paris")
        tab_to(page, "main form [type=submit]")
        follow(page, "Enter")

        tab_to(page, "input[name=shipping_method]")
        page.keyboard.press("Space")
        tab_to(page, "main form [type=submit]")
        follow(page, "Enter")

        tab_to(page, "#method-card")
        page.keyboard.press("Space")
        tab_to(page, "[data-method-button]")
        follow(page, "Enter")

        # The sandbox's card page.
        type_into(page, "#id_number", "4242424242424242")
        type_into(page, "#id_expiry", "12/34")
        type_into(page, "#id_security_code", "123")
        tab_to(page, "button.pay")
        follow(page, "Enter")

        expect(page.get_by_test_id("card")).to_contain_text("4242")
        tab_to(page, "form[data-once] [type=submit]")
        page.keyboard.press("Enter")

        expect(page.get_by_test_id("payment-promise")).to_contain_text("4242")
        assert Order.objects.get().status == OrderStatus.CONFIRMED
    finally:
        context.close()
