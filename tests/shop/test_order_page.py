"""Issue 12, points 2-4: the order's page, "find my order", the payment page, the words."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from orders.links import order_page_path
from orders.models import Order
from orders.services import order_cancel, order_ship
from payments.methods import CARD_BRANDS, METHODS
from payments.models import CustomerEmail
from payments.providers.stripe.mapping import BRANDS
from tests.factories import ProductVariantFactory
from tests.helpers import place_order
from tests.shop.test_checkout import DETAILS, checkout_until_review, fill_cart

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def ship_in_parcels(order: Order, count: int, run_tasks) -> None:
    lines = list(order.lines.all())
    for index, line in enumerate(lines[:count]):
        order_ship(
            order_id=order.pk,
            carrier="colissimo" if index % 2 == 0 else "ups",
            tracking_number=f"6A0000000000{index}",
            lines={line.pk: line.quantity},
        )
    run_tasks()


def test_the_placed_email_is_queued_once_with_the_amount_held():
    order = place_order({ProductVariantFactory(product__price_amount=5000).pk: 1})

    [placed] = CustomerEmail.objects.filter(order=order)
    assert placed.kind == CustomerEmail.Kind.PLACED
    assert placed.amount == order.total_amount


def test_the_signed_link_shows_the_timeline_to_another_browser(client, run_tasks, english):
    variants = [ProductVariantFactory(product__price_amount=5000, stock=5) for _ in range(2)]
    order = place_order({v.pk: 1 for v in variants}, language="en")
    ship_in_parcels(order, 2, run_tasks)

    page = client.get(order_page_path(order)).content.decode()

    assert order.number in page
    timeline = page[page.index('data-testid="timeline"') :]
    for words in (
        "Order placed",
        "held on your Visa •••• 4242, not debited",
        "Order confirmed",
        "Parcel handed to Colissimo",
        "Tracking number: 6A00000000000",
        "https://www.laposte.fr/outils/suivre-vos-envois?code=6A00000000000",
        "Parcel handed to UPS",
        "debited",
    ):
        assert words in timeline, words
    assert timeline.count('class="timeline-debited"') == 2  # one debit per parcel
    assert "Visa •••• 4242" in page  # the method
    assert "France" in page  # the address, with the country's name


def test_the_order_page_has_a_fixed_number_of_queries(client, run_tasks, django_assert_num_queries):
    small = place_order({ProductVariantFactory(stock=5).pk: 1})
    variants = [ProductVariantFactory(stock=5) for _ in range(4)]
    big = place_order({v.pk: 1 for v in variants})
    ship_in_parcels(big, 3, run_tasks)
    order_cancel(order_id=big.pk)
    run_tasks()

    # Not shipped: the order, its lines, payments and ledger (it has no parcel to read).
    with django_assert_num_queries(4):
        assert client.get(order_page_path(small)).status_code == 200
    # Shipped: its parcels too, one query however many parcels and debits.
    with django_assert_num_queries(5):
        page = client.get(order_page_path(big)).content.decode()
    # Three parcels, three debits, the rest cancelled and its hold released.
    assert page.count('class="timeline-shipped"') == page.count('class="timeline-debited"') == 3
    assert 'class="timeline-released"' in page


def test_without_a_valid_link_the_page_is_404_as_for_no_order(client):
    order = place_order({ProductVariantFactory().pk: 1})
    path = order_page_path(order)

    missing_signature = client.get(path.split("?")[0])
    forged = client.get(re.sub(r"sig=[^&]+", "sig=abc", path))
    other_order = client.get(
        reverse("shop:order_confirmation", kwargs={"token": "00000000-0000-4000-8000-000000000000"})
        + "?"
        + path.split("?")[1]
    )

    assert missing_signature.status_code == forged.status_code == other_order.status_code == 404
    assert missing_signature.content == other_order.content


def find(client, email, number):
    return client.post(reverse("shop:find_order"), {"email": email, "number": number}, follow=True)


def test_find_my_order_answers_the_same_whether_or_not_the_order_exists(client, english):
    order = place_order({ProductVariantFactory().pk: 1})

    found = find(client, "Claire@Example.com", order.number.lower())
    not_found = find(client, "claire@example.com", "ZZZZZZZZZZ")
    wrong_email = find(client, "someone@example.com", order.number)

    def message(response):
        return re.search(r'class="message[^"]*">(.*?)</p>', response.content.decode(), re.S)[1]

    assert message(found) == message(not_found) == message(wrong_email)
    links = CustomerEmail.objects.filter(kind=CustomerEmail.Kind.ORDER_LINK)
    assert [e.order_id for e in links] == [order.pk]  # only the right pair gets the link


def test_find_my_order_is_rate_limited(client, settings, english):
    order = place_order({ProductVariantFactory().pk: 1})
    for _ in range(settings.SHOP_FIND_ORDER_PER_EMAIL):
        assert find(client, "claire@example.com", order.number).status_code == 200

    refused = find(client, "claire@example.com", order.number)

    assert refused.status_code == 429
    assert "Too many requests" in refused.content.decode()
    links = CustomerEmail.objects.filter(kind=CustomerEmail.Kind.ORDER_LINK)
    assert links.count() == settings.SHOP_FIND_ORDER_PER_EMAIL


def test_find_my_order_explains_bad_input_and_sends_nothing(client, english):
    response = client.post(reverse("shop:find_order"), {"email": "claire@", "number": ""})

    assert response.status_code == 422
    page = response.content.decode()
    assert "Enter an e-mail address like name@example.com." in page
    assert "Enter your order number." in page
    assert not CustomerEmail.objects.filter(kind=CustomerEmail.Kind.ORDER_LINK).exists()


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", ["Visa, Mastercard, American Express", "Alipay", "HTTPS", "cryptogramme"]),
        ("en", ["Visa, Mastercard, American Express", "Alipay", "HTTPS", "security code"]),
    ],
)
def test_the_payment_page_is_built_from_the_methods(client, language, words):
    prefix = "/en" if language == "en" else ""
    page = client.get(f"{prefix}/payment/").content.decode()

    for word in words:
        assert word in page, word
    for code in METHODS:
        assert f'data-testid="method-{code}"' in page
    assert set(CARD_BRANDS) == set(BRANDS.values())  # what Stripe accepts, too


def test_the_footer_and_the_payment_step_link_the_payment_page(client):
    variant = ProductVariantFactory(stock=3)
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})

    step = client.get(reverse("shop:checkout_payment")).content.decode()
    home = client.get(reverse("shop:product_list")).content.decode()

    link = f'href="{reverse("shop:payment_information")}"'
    assert step.count(link) == 2  # the step itself and the footer
    assert link in home


def test_each_method_has_its_own_words_on_the_payment_step(client, english):
    variant = ProductVariantFactory(stock=3)
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})

    page = client.get(reverse("shop:checkout_payment")).content.decode()

    assert 'data-button="Enter card details"' in page
    assert 'data-button="Continue to PayPal"' in page
    assert 'data-button="Continue to Alipay"' in page
    assert re.search(r'data-testid="when-alipay">Debited at once', page)
    assert re.search(r'data-testid="when-paypal">Nothing is debited today', page)
    assert "Nothing is debited today. When you place the order" not in page  # not above Alipay


def test_the_review_names_the_country_and_fits_the_card(client, english):
    variant = ProductVariantFactory(stock=3)
    checkout_until_review(client, variant)

    page = client.get(reverse("shop:checkout_review")).content.decode()

    assert "<br>France" in page
    assert "is held on your card" in page
    assert '<span class="visually-hidden"> card</span>' in page


def test_the_delivery_step_total_includes_the_shipping(client):
    variant = ProductVariantFactory(product__price_amount=12900, stock=3)
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)

    page = client.get(reverse("shop:checkout_shipping")).content.decode()

    total = re.search(r'data-testid="order-total">([^<]+)<', page)[1]
    assert total.replace("\xa0", " ").replace("\u202f", " ") == "135,90 €"  # 129,00 + 6,90
