import pytest
from django.urls import reverse

from shop.money import format_money
from shop.views import PRODUCTS_PER_PAGE
from tests.factories import ProductFactory, ProductVariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dress():
    product = ProductFactory(name="Robe portefeuille", slug="robe", price_amount=12900)
    ProductVariantFactory(product=product, size="S", stock=2, position=1)
    ProductVariantFactory(product=product, size="M", stock=0, position=2)
    return product


def add(client, variant, quantity=1, **extra):
    return client.post(
        reverse("shop:cart_add", kwargs={"slug": variant.product.slug}),
        {"variant": variant.pk, "quantity": quantity, **extra},
    )


def test_the_collection_is_french_by_default_with_french_prices(client, dress):
    response = client.get("/")
    page = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="fr">' in page
    assert "129,00\u00a0€" in page
    assert "Robe portefeuille" in page


def test_the_collection_in_english(client, dress):
    page = client.get("/en/").content.decode()
    assert '<html lang="en">' in page
    assert "€129.00" in page


def test_the_collection_has_a_fixed_number_of_queries(client, django_assert_num_queries):
    for _ in range(2):
        ProductVariantFactory()
    client.get("/")
    # On one page: the products (one more than a page, to know) and their variants.
    with django_assert_num_queries(2) as two_products:
        client.get("/")
    for _ in range(5):
        ProductVariantFactory()
    with django_assert_num_queries(len(two_products.captured_queries)):
        client.get("/")


def test_a_collection_longer_than_a_page_is_counted_once(client, django_assert_num_queries):
    for _ in range(PRODUCTS_PER_PAGE + 1):
        ProductVariantFactory()
    with django_assert_num_queries(3):  # the first page and one more, their variants, the count
        first = client.get("/").content.decode()
    second = client.get("/?page=2").content.decode()

    assert first.count('<li class="product-card">') == PRODUCTS_PER_PAGE
    assert second.count('<li class="product-card">') == 1
    assert 'rel="next"' in first and 'rel="next"' not in second
    assert "Page 1 sur 2" in first  # French, the default


def test_product_page_has_a_fixed_number_of_queries(client, dress, django_assert_num_queries):
    with django_assert_num_queries(1):  # its sizes, with the product joined
        response = client.get(dress.get_absolute_url())
    assert response.status_code == 200


def test_an_unknown_or_inactive_product_is_not_found(client, dress):
    assert client.get(reverse("shop:product_detail", kwargs={"slug": "nope"})).status_code == 404
    dress.is_active = False
    dress.save()
    assert client.get(dress.get_absolute_url()).status_code == 404


def test_adding_puts_the_variant_in_the_cart_and_ignores_a_posted_price(client, dress):
    small = dress.variants.get(size="S")
    response = add(client, small, 2, price_amount=1, unit_price="0.01")

    assert response.url == reverse("shop:cart")
    assert client.session["cart"] == {str(small.pk): 2}
    page = client.get(reverse("shop:cart")).content.decode()
    assert "258,00\u00a0€" in page


def test_adding_more_than_the_stock_is_refused_with_a_message(client, dress, english):
    small = dress.variants.get(size="S")
    add(client, small, 2)
    response = add(client, small, 1)

    assert response.url == dress.get_absolute_url()
    assert client.session["cart"] == {str(small.pk): 2}
    page = client.get(response.url).content.decode()
    assert "Only 2 left in size S of Robe portefeuille." in page


def test_an_out_of_stock_size_cannot_be_added(client, dress, english):
    medium = dress.variants.get(size="M")
    response = add(client, medium)

    assert "cart" not in client.session or not client.session["cart"]
    page = client.get(response.url).content.decode()
    assert "Size M of Robe portefeuille is out of stock." in page


@pytest.mark.parametrize(
    "data",
    [
        {"variant": "", "quantity": 1},
        {"variant": "abc", "quantity": 1},
        {"variant": 999999, "quantity": 1},
        {"quantity": 0},
        {"quantity": "lots"},
        {"quantity": 11},
    ],
)
def test_bad_add_to_cart_input_is_explained_and_changes_nothing(client, dress, data):
    small = dress.variants.get(size="S")
    response = client.post(
        reverse("shop:cart_add", kwargs={"slug": dress.slug}), {"variant": small.pk, **data}
    )
    assert response.status_code == 422
    assert not client.session.get("cart")


def test_a_variant_of_another_product_cannot_be_added_through_this_one(client, dress):
    other = ProductVariantFactory()
    response = client.post(
        reverse("shop:cart_add", kwargs={"slug": dress.slug}), {"variant": other.pk, "quantity": 1}
    )
    assert response.status_code == 422
    assert not client.session.get("cart")


def test_change_quantity_and_remove(client, dress):
    small = dress.variants.get(size="S")
    add(client, small, 1)

    client.post(reverse("shop:cart_update"), {"variant": small.pk, "quantity": 2})
    assert client.session["cart"] == {str(small.pk): 2}

    response = client.post(reverse("shop:cart_update"), {"variant": small.pk, "quantity": 3})
    assert client.session["cart"] == {str(small.pk): 2}  # only 2 in stock
    assert response.status_code == 302

    client.post(reverse("shop:cart_update"), {"variant": small.pk, "quantity": 0})
    assert client.session["cart"] == {}

    add(client, small, 1)
    client.post(reverse("shop:cart_remove"), {"variant": small.pk})
    assert client.session["cart"] == {}


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("shop:cart_update", {"variant": "x", "quantity": 1}),
        ("shop:cart_update", {"variant": 999999, "quantity": 1}),
        ("shop:cart_update", {"quantity": -1}),
        ("shop:cart_remove", {"variant": "x"}),
        ("shop:cart_remove", {}),
    ],
)
def test_bad_cart_input_never_errors(client, dress, url, data):
    small = dress.variants.get(size="S")
    add(client, small, 1)
    response = client.post(reverse(url), data)
    assert response.status_code == 302
    assert client.session["cart"] == {str(small.pk): 1}


def test_the_cart_shows_a_size_that_ran_out_after_it_was_added(client, dress, english):
    small = dress.variants.get(size="S")
    add(client, small, 2)
    small.stock = 1
    small.save()
    page = client.get(reverse("shop:cart")).content.decode()
    assert "Only 1 left in this size" in page


def test_the_cart_page_has_a_fixed_number_of_queries(client, django_assert_num_queries):
    for _ in range(3):
        add(client, ProductVariantFactory(), 1)
    with django_assert_num_queries(1):  # cart variants with products (the session is a cookie)
        client.get(reverse("shop:cart"))


def test_get_is_not_allowed_on_cart_changes(client):
    assert client.get(reverse("shop:cart_update")).status_code == 405


@pytest.mark.parametrize(
    ("amount", "language", "expected"),
    [
        (12900, "fr", "129,00\u00a0€"),
        (12900, "en", "€129.00"),
        (123456, "fr", "1\u202f234,56\u00a0€"),
        (5, "en", "€0.05"),
    ],
)
def test_money_is_formatted_per_language(amount, language, expected):
    assert format_money(amount, "EUR", language) == expected


def test_the_collection_is_shown_a_page_at_a_time(client):
    products = [ProductVariantFactory().product for _ in range(PRODUCTS_PER_PAGE + 2)]
    first = client.get("/").content.decode()
    assert products[0].name in first and products[-1].name not in first
    assert 'rel="next"' in first
    second = client.get("/?page=2").content.decode()
    assert products[-1].name in second and products[0].name not in second
    # A bad page number shows a page, never an error.
    assert client.get("/?page=nope").status_code == 200
    assert products[-1].name in client.get("/?page=999").content.decode()
