"""The admin home counts what needs attention, each linking to its list, in a fixed
number of queries; the order list and the order page keep a fixed number too."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.services import order_ship
from payments.models import CustomerEmail, Payment, PaymentStatus
from tests.factories import ProductVariantFactory
from tests.helpers import place_order

pytestmark = pytest.mark.django_db
REVIEW = "4000000000009235"


def counts(response) -> dict[str, tuple[int, str]]:
    page = response.content.decode()
    rows = re.findall(
        r'<th scope="row"><a href="([^"]+)">([^<]+)</a></th><td class="attention-count">(\d+)</td>',
        page,
    )
    return {label: (int(count), url.replace("&amp;", "&")) for url, label, count in rows}


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_finance_sees_each_count_and_each_link_lists_those_orders(as_role, run_tasks, english):
    variant = ProductVariantFactory(product__price_amount=5000, stock=20)
    place_order({variant.pk: 1})  # to ship
    place_order({variant.pk: 1}, number=REVIEW)
    lapsed = place_order({variant.pk: 1})
    Payment.objects.filter(order=lapsed).update(status=PaymentStatus.EXPIRED)
    disputed = place_order({variant.pk: 1})
    Payment.objects.filter(order=disputed).update(failure_code="disputed", needs_attention=True)
    client = as_role("superuser")

    shown = counts(client.get(reverse("admin:index")))

    assert shown["Orders to ship"][0] == 3  # the lapsed and disputed orders are confirmed too
    assert shown["Orders being verified"][0] == 1
    assert shown["Lapsed holds awaiting the customer"][0] == 1
    assert shown["Disputes"][0] == 1
    assert shown["Reconciliation mismatches"][0] == 0
    for label in ["Orders to ship", "Orders being verified", "Lapsed holds awaiting the customer"]:
        count, url = shown[label]
        listed = client.get(url)
        assert listed.status_code == 200, label
        assert listed.context["cl"].result_count == count, label


def test_shipped_but_not_charged_and_unsent_emails_are_counted(as_role, run_tasks, english):
    order = place_order({ProductVariantFactory(product__price_amount=5000).pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")
    run_tasks()
    Payment.objects.filter(order=order).update(needs_attention=True)
    CustomerEmail.objects.update(sent_at=None, created_at="2020-01-01T00:00Z")
    client = as_role("superuser")

    shown = counts(client.get(reverse("admin:index")))

    assert shown["Shipped but not charged"][0] == 1
    assert shown["E-mails not sent"][0] == CustomerEmail.objects.count() > 0
    listed = client.get(shown["E-mails not sent"][1])
    assert listed.context["cl"].result_count == CustomerEmail.objects.count()


def test_warehouse_sees_only_what_it_ships(as_role, order, english):
    shown = counts(as_role("warehouse").get(reverse("admin:index")))
    assert list(shown) == ["Orders to ship"]


def test_home_list_and_order_page_take_a_fixed_number_of_queries(as_role, run_tasks):
    client = as_role("superuser")
    variant = ProductVariantFactory(product__price_amount=5000, stock=50)
    first = place_order({variant.pk: 2})
    order_ship(order_id=first.pk, carrier="colissimo")
    run_tasks()
    pages = [reverse("admin:index"), reverse("admin:orders_order_changelist")]
    for url in [*pages, reverse("admin:orders_order_change", args=[first.pk])]:
        client.get(url)  # warm the caches (content types, session)
    before = [queries(client, url) for url in pages]
    page_before = queries(client, reverse("admin:orders_order_change", args=[first.pk]))
    for _ in range(4):
        order = place_order({variant.pk: 1}, number=REVIEW)
    place_order({variant.pk: 3})
    run_tasks()

    assert [queries(client, url) for url in pages] == before
    # An order page's queries do not grow with the number of orders.
    assert queries(client, reverse("admin:orders_order_change", args=[first.pk])) == page_before
    assert order.pk != first.pk
