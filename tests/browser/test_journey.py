"""The whole journey in a browser: buy, staff ship, the worker captures, the e-mail goes."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from orders.models import Order, OrderStatus
from payments.models import Payment, PaymentStatus
from tests.factories import ProductVariantFactory
from tests.helpers import run_tasks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_details(page) -> None:
    """The details step, in English, then on to delivery."""
    page.get_by_label("Email").fill("claire@example.com")
    page.get_by_label("Full name").fill("Claire Dubois")
    page.get_by_label("Address", exact=True).fill("12 rue des Lilas")
    page.get_by_label("Postal code").fill("75011")
    page.get_by_label("City").fill("Paris")
    page.get_by_role("button", name="Continue to delivery").click()


def add_dress_and_checkout(page, base_url: str) -> None:
    """From the collection to the payment step, with one dress in size M."""
    page.goto(f"{base_url}/en/")
    page.get_by_role("link", name="Robe portefeuille").first.click()
    page.get_by_label("M", exact=True).check()
    page.get_by_role("button", name="Add to cart").click()
    page.get_by_role("link", name="Checkout").click()
    fill_details(page)
    page.get_by_role("button", name="Continue to payment").click()


def buy(page, base_url: str, card: str = "4242 4242 4242 4242") -> None:
    page.goto(f"{base_url}/en/")
    page.get_by_role("link", name="Robe portefeuille").first.click()
    page.get_by_label("M", exact=True).check()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_test_id("cart-subtotal")).to_have_text("€258.00")

    page.get_by_role("link", name="Checkout").click()
    expect(page.locator("[aria-current=step]")).to_contain_text("Details")
    fill_details(page)

    page.get_by_label(re.compile("Standard delivery")).check()
    page.get_by_role("button", name="Continue to payment").click()
    page.get_by_role("radio", name=re.compile("^Card Visa")).check()
    page.get_by_role("button", name="Enter card details").click()

    # The sandbox's own page: the shop never sees what is typed here.
    expect(page.get_by_text("TEST MODE")).to_be_visible()
    page.wait_for_load_state("load")  # the brand detection script is in
    page.get_by_label("Card number").press_sequentially(card.replace(" ", ""))
    expect(page.locator("#card-brand")).to_have_text("Visa")
    page.get_by_label("Expiry date (MM/YY)").fill("12/34")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name=re.compile("^Authorize")).click()


def test_shopper_buys_staff_ships_worker_captures_and_emails(page, staff_page, live_server):
    ProductVariantFactory(
        product__name="Robe portefeuille", product__price_amount=12900, size="M", stock=4
    )
    get_user_model().objects.create_superuser("staff", "staff@example.com", "boutique-staff")

    buy(page, live_server.url)
    expect(page.locator("[aria-current=step]")).to_contain_text("Review")
    expect(page.get_by_test_id("card")).to_contain_text("Visa •••• 4242")
    page.get_by_role("button", name=re.compile("Place order")).click()

    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.get_by_test_id("payment-promise")).to_contain_text(
        "€264.90 is held on your Visa •••• 4242. Nothing has been debited yet."
    )
    number = page.get_by_test_id("order-number").text_content()
    order = Order.objects.get(number=number)
    assert order.status == OrderStatus.CONFIRMED

    # Staff mark it shipped in the admin.
    staff_page.goto(f"{live_server.url}/admin/")
    staff_page.locator("#id_username").fill("staff")
    staff_page.locator("#id_password").fill("boutique-staff")
    staff_page.locator("input[type=submit]").click()
    staff_page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    staff_page.locator("a.ship-link").click()
    staff_page.get_by_label(re.compile("Carrier|Transporteur")).select_option("colissimo")
    staff_page.get_by_label(re.compile(number)).fill("6A12345678901")
    staff_page.locator("input[type=submit]").click()
    expect(staff_page.locator(".messagelist .success")).to_contain_text(number)

    # Nothing is captured until the worker runs.
    assert Payment.objects.get(order=order).status == PaymentStatus.AUTHORIZED
    assert run_tasks() == 3  # the e-mail at the order, the capture, the debit e-mail

    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.captured_amount == 26490
    placed, email = mail.outbox
    assert "€264.90 is held on your Visa •••• 4242" in placed.body
    assert f"/en/orders/{order.token}/?sig=" in placed.body
    assert email.to == ["claire@example.com"]
    assert number in email.subject
    # The order was placed in English, so the e-mail is in English.
    assert "We have debited €264.90 from your Visa card ending in 4242." in email.body
    assert "6A12345678901" in email.body
