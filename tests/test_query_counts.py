"""SQL statements per page, with small and large data: the same counts for both (but one).

Small: 12 products and 10 orders; large: 200 products and 1,000 orders. Each
shopper page, each checkout step (GET and POST), the order's confirmation
page, the admin's order list and order page and the shipping-run
confirmation are counted, and compared with ``EXPECTED`` (the first page of a
catalogue that fits on it costs one less: ``ONE_PAGE``): a page whose cost
grows with the catalogue or the order book fails here, and so does any new
statement (update ``EXPECTED`` on purpose, never by habit).
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.bulk_shipping import shipping_run_start
from orders.models import Order
from shop.models import Product, ProductVariant
from shop.views import PRODUCTS_PER_PAGE
from tests.factories.orders import bulk_orders
from tests.helpers import APPROVED_VISA

pytestmark = pytest.mark.django_db

SIZES = {"small": (12, 10), "large": (200, 1000)}

# Savepoints are not counted (they are not statements the database plans or writes).
EXPECTED = {
    "product list": 3,
    "product list, page 2": 3,
    "product page": 1,
    "add to cart": 1,
    "cart": 1,
    "legal page": 0,
    "details": 1,
    "details sent": 0,
    "delivery": 1,
    "delivery sent": 0,
    "payment": 1,
    "payment sent": 3,
    "back from the card page": 3,
    "review": 1,
    "place order": 18,
    "confirmation": 4,
    "admin order list": 8,
    "admin order page": 18,
    "admin shipping-run confirmation": 5,
}

# A collection that fits on its first page is not counted (12 products; 200 take 9 pages).
ONE_PAGE = {"product list": 2}

DETAILS = {
    "email": "claire@example.com",
    "full_name": "Claire Dubois",
    "address_line1": "12 rue des Lilas",
    "postal_code": "75011",
    "city": "Paris",
    "country": "FR",
}


def catalogue(n: int) -> list[Product]:
    products = Product.objects.bulk_create(
        Product(name=f"Robe {i:03}", slug=f"robe-{i}", price_amount=5000 + i, position=i)
        for i in range(n)
    )
    ProductVariant.objects.bulk_create(
        ProductVariant(product=p, size=size, sku=f"SKU-{p.pk}-{size}", stock=50, position=k)
        for p in products
        for k, size in enumerate(["S", "M", "L", "XL"])
    )
    return products


class Counter:
    def __init__(self, client) -> None:
        self.client = client
        self.counts: dict[str, int] = {}

    def __call__(self, name: str, method: str, url: str, data=None, status=None):
        with CaptureQueriesContext(connection) as queries:
            response = getattr(self.client, method)(url, data or {})
        statements = [q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
        self.counts[name] = len(statements)
        if status is not None:
            assert response.status_code == status, (name, response.status_code)
        return response


@pytest.mark.parametrize("size", SIZES)
def test_every_page_has_a_fixed_number_of_queries(client, size):
    n_products, n_orders = SIZES[size]
    products = catalogue(n_products)
    bulk_orders(n_orders)
    count = Counter(client)
    first, second = products[0], products[-1]

    count("product list", "get", "/", status=200)
    count("product list, page 2", "get", "/?page=2", status=200)
    count("product page", "get", first.get_absolute_url(), status=200)
    for product in (first, second):
        variant = product.variants.first()
        count(
            "add to cart",
            "post",
            reverse("shop:cart_add", kwargs={"slug": product.slug}),
            {"variant": variant.pk, "quantity": 1},
            status=302,
        )
    count("cart", "get", reverse("shop:cart"), status=200)
    count("legal page", "get", reverse("shop:legal_terms"), status=200)
    count("details", "get", reverse("shop:checkout_details"), status=200)
    count("details sent", "post", reverse("shop:checkout_details"), DETAILS, status=302)
    count("delivery", "get", reverse("shop:checkout_shipping"), status=200)
    count(
        "delivery sent",
        "post",
        reverse("shop:checkout_shipping"),
        {"shipping_method": "standard"},
        status=302,
    )
    count("payment", "get", reverse("shop:checkout_payment"), status=200)
    card_page = count("payment sent", "post", reverse("shop:checkout_payment"), status=302).url
    back = client.post(
        card_page, {"number": APPROVED_VISA, "expiry": "12/34", "security_code": "123"}
    ).url
    count("back from the card page", "get", back, status=302)
    review = count("review", "get", reverse("shop:checkout_review"), status=200)
    token = re.search(r'name="checkout_token" value="([^"]+)"', review.content.decode())[1]
    placed = count(
        "place order", "post", reverse("shop:checkout_review"), {"checkout_token": token}
    )
    assert placed.status_code == 302 and "/orders/" in placed.url, placed.url
    count("confirmation", "get", placed.url, status=200)

    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(staff)
    order = Order.objects.latest("pk")
    # Content types are cached once per process: warm them, so the order of tests is moot.
    client.get(reverse("admin:orders_order_changelist"))
    client.get(reverse("admin:orders_order_change", args=[order.pk]))
    count("admin order list", "get", reverse("admin:orders_order_changelist"), status=200)
    count(
        "admin order page",
        "get",
        reverse("admin:orders_order_change", args=[order.pk]),
        status=200,
    )
    run = shipping_run_start(
        order_ids=list(Order.objects.values_list("pk", flat=True)), started_by=staff
    )
    confirmation = count(
        "admin shipping-run confirmation",
        "get",
        reverse("admin:orders_shippingrun", args=[run.pk]),
        status=200,
    )
    assert confirmation.context["summary"].selected == n_orders + 1

    assert count.counts == (EXPECTED | ONE_PAGE if n_products <= PRODUCTS_PER_PAGE else EXPECTED)


# The peer harness's journey (bench/flows/shop.py), step by step as it names them:
# a followed redirect belongs to the step that sent it.
JOURNEY_BUDGET = 45


def test_the_harness_journey_takes_at_most_45_statements(client):
    products = catalogue(12)
    https = {"headers": {"X-Forwarded-Proto": "https"}}
    steps: dict[str, int] = {}
    sql: dict[str, list[str]] = {}

    def step(name: str, *requests):
        """Send (method, url, data) requests in turn; the last response is returned."""
        with CaptureQueriesContext(connection) as queries:
            for method, url, data in requests:
                response = getattr(client, method)(url, data or {}, **https)
        statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
        steps[name] = steps.get(name, 0) + len(statements)
        sql.setdefault(name, []).extend(statements)
        return response

    def local(url: str) -> str:
        return re.sub(r"^https?://[^/]+", "", url)

    step("list", ("get", "/", None))
    for product in (products[0], products[-1]):
        step("product", ("get", product.get_absolute_url(), None))
        variant = product.variants.order_by("position").first()
        added = step(
            "add_to_basket",
            (
                "post",
                reverse("shop:cart_add", kwargs={"slug": product.slug}),
                {"variant": variant.pk, "quantity": 1},
            ),
        )
        assert added.status_code == 302
        step("add_to_basket", ("get", local(added.url), None))
    step("basket", ("get", "/cart/", None))
    step("checkout", ("get", "/checkout/", None))
    sent = step("address", ("post", "/checkout/", DETAILS))
    assert local(sent.url) == "/checkout/delivery/"
    step("address", ("get", local(sent.url), None))
    sent = step("shipping", ("post", "/checkout/delivery/", {"shipping_method": "standard"}))
    assert local(sent.url) == "/checkout/payment/"
    step("shipping", ("get", local(sent.url), None))
    sent = step("payment", ("post", "/checkout/payment/", {"method": "card"}))
    card_page = local(sent.url)
    assert card_page.startswith("/sandbox/pay/"), card_page
    step("payment", ("get", card_page, None))
    back = step(
        "card_page",
        (
            "post",
            card_page,
            {"number": "4242 4242 4242 4242", "expiry": "12/30", "security_code": "123"},
        ),
    )
    assert back.status_code == 302
    back_url = local(back.url)
    assert back_url.startswith("/checkout/payment/return/?session_id="), back_url
    returned = step("review", ("get", back_url, None))
    assert local(returned.url) == "/checkout/review/"
    review = step("review", ("get", "/checkout/review/", None))
    assert "4242" in review.content.decode()
    token = re.search(r'name="checkout_token" value="([^"]+)"', review.content.decode())[1]
    placed = step("place_order", ("post", "/checkout/review/", {"checkout_token": token}))
    assert placed.status_code == 302 and re.match(r"^/orders/[0-9a-f-]{36}/$", local(placed.url))
    page = step("confirmation", ("get", local(placed.url), None))
    assert page.status_code == 200 and 'data-testid="payment-promise"' in page.content.decode()

    total = sum(steps.values())
    print("\nSQL statements per step of the harness's journey (savepoints not counted):")
    for name, count in steps.items():
        print(f"  {name:<15} {count:>3}")
    print(f"  {'whole journey':<15} {total:>3}")
    if total > JOURNEY_BUDGET:
        for name, statements in sql.items():
            print(f"\n--- {name}")
            print("\n".join(s[:300] for s in statements))
    assert total <= JOURNEY_BUDGET
