"""Every shopper page, in French and in English, differs on every line of prose.

The same journey is walked twice over HTTP, at ``/`` (French) and at ``/en/``:
catalogue, product, cart, the four checkout steps (with a form sent empty, to
see its errors), the sandbox's card page and 3-D Secure page, PayPal's page,
the confirmation and the page that asks to authorize again. The visible text
and the text for assistive technology (``alt``, ``aria-label``, ``title``,
``placeholder``) is compared line by line once the catalogue's own data (in
one language), the shopper's details, numbers and amounts are taken out: a
line found in both languages was not translated.
"""

import gettext
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from orders.models import Order
from payments.emails import reauthorize_url
from payments.services import payment_watch_authorizations
from shop.models import Product, ProductVariant
from tests.factories import ProductVariantFactory
from tests.shop.test_checkout import DETAILS

pytestmark = pytest.mark.django_db

THREE_DS = "4000002760003184"
# The same in every language: language names in the language menu (each in its own
# language), card brands, payment services and the names of the standards they use.
PROPER_NAMES = [
    "English",
    "Français",
    "American Express",
    "Mastercard",
    "Visa",
    "Apple Pay",
    "Google Pay",
    "PayPal",
    "Alipay",
    "3-D Secure",
]
SPOKEN_ATTRIBUTES = {"alt", "aria-label", "title", "placeholder"}


class VisibleText(HTMLParser):
    """Text a shopper sees or hears: text nodes and spoken attributes, not scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1
        for name, value in attrs:
            if name in SPOKEN_ATTRIBUTES and value:
                self.lines.append(value)
        if tag == "input" and ("type", "submit") in attrs:
            self.lines.extend(value for name, value in attrs if name == "value" and value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.lines.extend(data.splitlines())


class Journey:
    """One shopper walking through the shop in one language; keeps each page's HTML."""

    def __init__(self, client, language: str) -> None:
        self.client, self.language = client, language
        self.pages: dict[str, str] = {}

    def url(self, name: str, **kwargs) -> str:
        with translation.override(self.language):
            return reverse(name, kwargs=kwargs or None)

    def keep(self, page: str, response) -> None:
        assert response.status_code in (200, 422), (page, response.status_code)
        self.pages[page] = response.content.decode()

    def get(self, page: str, url: str) -> None:
        self.keep(page, self.client.get(url))

    def walk(self, variant: ProductVariant) -> None:
        client = self.client
        self.get("catalogue", self.url("shop:product_list"))
        self.get("product", self.url("shop:product_detail", slug=variant.product.slug))
        self.get("empty cart", self.url("shop:cart"))
        client.post(
            self.url("shop:cart_add", slug=variant.product.slug),
            {"variant": variant.pk, "quantity": 1},
        )
        self.get("cart", self.url("shop:cart"))
        self.get("details", self.url("shop:checkout_details"))
        self.keep("details with errors", client.post(self.url("shop:checkout_details"), {}))
        client.post(self.url("shop:checkout_details"), DETAILS)
        self.get("delivery", self.url("shop:checkout_shipping"))
        client.post(self.url("shop:checkout_shipping"), {"shipping_method": "standard"})
        self.get("payment", self.url("shop:checkout_payment"))

        paypal_page = client.post(self.url("shop:checkout_payment"), {"method": "paypal"}).url
        self.get("PayPal's page", paypal_page)
        card_page = client.post(self.url("shop:checkout_payment"), {"method": "card"}).url
        self.get("card page", card_page)
        self.keep("card page with errors", client.post(card_page, {"number": "4242"}))
        response = client.post(
            card_page, {"number": THREE_DS, "expiry": "12/34", "security_code": "123"}
        )
        client.get(response.url)
        self.get("review", self.url("shop:checkout_review"))
        token = re.search(r'name="checkout_token" value="([^"]+)"', self.pages["review"])[1]
        challenge = client.post(self.url("shop:checkout_review"), {"checkout_token": token}).url
        self.get("3-D Secure page", challenge)
        response = client.post(challenge, {"outcome": "approve"})
        self.keep("confirmation", client.get(response.url, follow=True))

        order = Order.objects.get(language=self.language)
        payment_watch_authorizations(now=timezone.now() + timedelta(days=30))
        self.get("authorize again", reauthorize_url(order).split("testserver", 1)[-1])


def normalized(line: str) -> str:
    return " ".join(re.sub(r"[\W\d_]+", " ", line).split()).lower()


def same_in_french() -> set[str]:
    """The catalogue's entries whose French is the English: translated, and identical."""
    catalogue = Path(settings.BASE_DIR) / "locale/fr/LC_MESSAGES/django.mo"
    with catalogue.open("rb") as compiled:
        entries = gettext.GNUTranslations(compiled)._catalog
    return {
        normalized(english)
        for english, french in entries.items()
        if isinstance(english, str) and english and english == french
    }


def made_of(line: str, pieces: set[str]) -> bool:
    """Whether ``line`` is one or more of ``pieces`` in a row ("collection boutique")."""
    words = line.split()
    reachable = {0}
    for end in range(1, len(words) + 1):
        if any(" ".join(words[start:end]) in pieces for start in reachable if start < end):
            reachable.add(end)
    return len(words) in reachable


def prose(html: str, leave_out: list[str]) -> set[str]:
    parser = VisibleText()
    parser.feed(html)
    lines = set()
    for line in parser.lines:
        for name in leave_out:
            line = line.replace(name, " ")
        line = normalized(line)
        if re.search(r"[^\W\d_]{2}", line):
            lines.add(line)
    return lines


def test_every_shopper_page_differs_between_french_and_english_on_every_line(client):
    variant = ProductVariantFactory(product__price_amount=12900, stock=5)
    french = Journey(client, "fr")
    french.walk(variant)
    client.cookies.clear()
    english = Journey(client, "en")
    english.walk(variant)

    catalogue = [
        value
        for product in Product.objects.all()
        for value in (product.name, product.description, product.image_alt)
    ] + [value for v in ProductVariant.objects.all() for value in (v.size, v.sku)]
    leave_out = sorted(
        [
            *catalogue,
            *DETAILS.values(),
            *PROPER_NAMES,
            *Order.objects.values_list("number", flat=True),
        ],
        key=len,
        reverse=True,
    )
    assert french.pages.keys() == english.pages.keys()
    identical = same_in_french()
    untranslated = {}
    for page in french.pages:
        french_lines = prose(french.pages[page], leave_out)
        english_lines = prose(english.pages[page], leave_out)
        assert french_lines and english_lines, page
        shared = {line for line in french_lines & english_lines if not made_of(line, identical)}
        if shared:
            untranslated[page] = sorted(shared)
    assert untranslated == {}
