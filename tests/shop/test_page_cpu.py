"""What the pages reuse instead of recomputing (issue 15), shown to stay correct.

- The cart's lines are sorted in Python (product name, size position), not by
  the model's default ordering in SQL.
- Prices are formatted by Babel once per amount, currency and language.
- ``{% fixed_fragment %}`` (the header's links, the footer, the language menu)
  renders once per language: each language still gets its own words, links
  and selected language, and what depends on the request (the CSRF token, the
  page to come back to, the cart's count) is still rendered per request.
"""

import re

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.urls import reverse
from django.utils import translation

from shop.cart import Cart
from shop.money import format_money
from tests.factories import ProductFactory, ProductVariantFactory

pytestmark = pytest.mark.django_db

FOOTER_FR = "Nous acceptons Visa, Mastercard et American Express"
FOOTER_EN = "We accept Visa, Mastercard and American Express"


def _selected_language(html: str) -> str:
    return re.search(r'<option value="(\w+)" selected>', html)[1]


def test_the_same_amount_is_formatted_for_each_language_in_turn():
    for _round in range(2):
        assert format_money(12900, "EUR", "fr") == "129,00\xa0€"
        assert format_money(12900, "EUR", "en") == "€129.00"
        assert format_money(12900, "USD", "en") == "US$129.00"
        assert format_money(500, "JPY", "en") == "JP¥500"


def test_the_active_language_picks_the_format():
    with translation.override("en"):
        assert format_money(4900, "EUR") == "€49.00"
    with translation.override("fr"):
        assert format_money(4900, "EUR") == "49,00\xa0€"


def test_header_footer_and_language_menu_follow_the_language_of_each_page(client):
    for _round in range(2):
        french = client.get("/").content.decode()
        english = client.get("/en/").content.decode()
        assert FOOTER_FR in french and FOOTER_EN not in french
        assert FOOTER_EN in english and FOOTER_FR not in english
        assert 'href="/legal/terms/"' in french
        assert 'href="/en/legal/terms/"' in english
        assert 'href="/en/cart/"' in english
        assert _selected_language(french) == "fr"
        assert _selected_language(english) == "en"


def test_what_depends_on_the_request_is_still_rendered_for_each_request(client):
    variant = ProductVariantFactory(stock=5)
    client.get("/")
    page = client.get(reverse("shop:cart")).content.decode()
    assert 'name="next" type="hidden" value="/cart/"' in page
    assert re.search(r'name="csrfmiddlewaretoken" value="\w+"', page)
    assert '<span class="badge">0<' in page
    client.post(
        reverse("shop:cart_add", kwargs={"slug": variant.product.slug}),
        {"variant": variant.pk, "quantity": 2},
    )
    page = client.get(reverse("shop:product_list")).content.decode()
    assert 'name="next" type="hidden" value="/"' in page
    assert '<span class="badge">2<' in page


def test_a_fixed_fragment_is_rendered_once_per_language_and_refuses_arguments():
    template = Template(
        "{% load i18n shop_tags %}{% fixed_fragment %}{% translate 'Cart' %} "
        "{{ value }}{% endfixed_fragment %}"
    )
    with translation.override("fr"):
        assert template.render(Context({"value": "first"})) == "Panier first"
        assert template.render(Context({"value": "second"})) == "Panier first"
    with translation.override("en"):
        assert template.render(Context({"value": "third"})) == "Cart third"
    with pytest.raises(TemplateSyntaxError):
        Template("{% load shop_tags %}{% fixed_fragment 'x' %}{% endfixed_fragment %}")


def test_the_cart_lists_lines_by_product_name_then_size_whatever_the_order_added():
    zebra = ProductFactory(name="Zèbre", position=0)
    acacia = ProductFactory(name="Acacia", position=9)
    large = ProductVariantFactory(product=acacia, size="L", position=2)
    small = ProductVariantFactory(product=acacia, size="S", position=1)
    only = ProductVariantFactory(product=zebra, size="M", position=0)
    session = {}
    cart = Cart(session)
    for variant in (only, large, small):
        cart.add(variant, 1)
    lines = Cart(session).summary().lines
    assert [(line.variant.product.name, line.variant.size) for line in lines] == [
        ("Acacia", "S"),
        ("Acacia", "L"),
        ("Zèbre", "M"),
    ]
