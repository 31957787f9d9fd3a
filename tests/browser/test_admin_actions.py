"""Finance in a browser: approve a payment under review from the order page, then refund
part of a shipped order from its page."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from orders.models import OrderStatus
from orders.services import order_ship
from payments.models import LedgerEvent, LedgerOperation, PaymentLedgerEntry
from tests.factories import ProductVariantFactory
from tests.helpers import place_order, run_tasks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
REVIEW = "4000000000009235"


def log_in(page, base_url: str) -> None:
    # A transactional test before this one flushed the groups the migration made.
    importlib.import_module("payments.migrations.0014_staff_groups").create_groups(apps, None)
    user = get_user_model().objects.create_user(
        "finance", "finance@example.com", "finance-pw", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Finance"))
    page.goto(f"{base_url}/admin/")
    page.locator("#id_username").fill("finance")
    page.locator("#id_password").fill("finance-pw")
    page.locator("input[type=submit]").click()


def test_finance_approves_a_review_and_refunds_part_of_an_order(staff_page, live_server):
    variant = ProductVariantFactory(product__price_amount=5000, stock=10)
    in_review = place_order({variant.pk: 1}, number=REVIEW)
    shipped = place_order({variant.pk: 2})
    order_ship(order_id=shipped.pk, carrier="colissimo")
    run_tasks()
    log_in(staff_page, live_server.url)

    staff_page.goto(f"{live_server.url}/admin/orders/order/{in_review.pk}/change/")
    expect(staff_page.locator(".in-review-notice")).to_be_visible()
    expect(staff_page.locator("a.ship-link")).to_have_count(0)
    staff_page.locator("a.approve-review-link").click()
    staff_page.locator("input[type=submit]").click()
    expect(staff_page.locator(".messagelist li")).to_have_count(1)
    expect(staff_page.locator(".messagelist .success")).to_contain_text(in_review.number)
    run_tasks()
    in_review.refresh_from_db()
    assert in_review.status == OrderStatus.CONFIRMED

    staff_page.goto(f"{live_server.url}/admin/orders/order/{shipped.pk}/change/")
    staff_page.locator("a.refund-link").click()
    staff_page.locator("#id_amount").fill("12,50")
    staff_page.locator("input[type=submit]").click()
    expect(staff_page.locator(".messagelist .success")).to_contain_text(shipped.number)
    run_tasks()
    refund = PaymentLedgerEntry.objects.get(
        order=shipped, operation=LedgerOperation.REFUND, event=LedgerEvent.SUCCEEDED
    )
    assert refund.amount == 1250
    staff_page.reload()
    expect(staff_page.locator("#timeline")).to_contain_text("finance")
