"""Issue 13 on the server side: errors that guide, trust at the payment step,
the legal pages, delivery estimates and the accessibility details of the markup."""

import re
from datetime import date

import pytest
from django.urls import clear_url_caches, reverse
from django.utils import translation

from shop.delivery import add_working_days, delivery_estimate, french_public_holidays
from tests.factories import ProductVariantFactory
from tests.shop.test_checkout import DETAILS, checkout_until_review, fill_cart, review_form

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _french():
    """Each request leaves its language active in this thread; reverse() follows it."""
    with translation.override("fr"):
        clear_url_caches()
        yield
    clear_url_caches()


@pytest.fixture
def dress():
    variant = ProductVariantFactory(
        product__name="Robe portefeuille",
        product__slug="robe",
        product__price_amount=12900,
        product__image_alt="Robe rose portée de face",
        size="S",
        stock=3,
        position=1,
    )
    ProductVariantFactory(product=variant.product, size="M", stock=0, position=2)
    return variant


def title(page: str) -> str:
    return re.search(r"<title>(.*?)</title>", page, re.S)[1].strip()


def test_a_product_sent_without_a_size_says_so_and_ties_the_message_to_the_sizes(client, dress):
    response = client.post(
        reverse("shop:cart_add", kwargs={"slug": "robe"}), {"variant": "", "quantity": 1}
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert title(page).startswith("Erreur : Robe portefeuille")
    summary = re.search(r'<div class="error-summary".*?</div>', page, re.S)[0]
    assert 'tabindex="-1"' in summary and "data-error-summary" in summary
    assert '<a href="#id_variant">Choisissez une taille.</a>' in summary
    assert "<legend>Tailles</legend>" in page
    assert '<fieldset class="size-group" aria-describedby="variant_error">' in page
    radios = re.findall(r'<input type="radio" name="variant"[^>]*>', page)
    assert len(radios) == 2
    assert all(
        'aria-invalid="true"' in r and 'aria-describedby="variant_error"' in r for r in radios
    )
    # The link lands on the first size that can be chosen, not the sold-out one.
    assert re.search(rf'value="{dress.pk}" id="id_variant"', page)
    assert 'id="variant_error">Choisissez une taille.' in page
    assert 'role="alert"' not in page


def test_the_details_form_lists_each_problem_with_what_to_do(client, dress):
    fill_cart(client, dress)

    response = client.post(reverse("shop:checkout_details"), {"email": "claire@", "country": "FR"})

    assert response.status_code == 422
    page = response.content.decode()
    assert title(page).startswith("Erreur : Vos coordonnées")
    summary = re.search(r'<div class="error-summary".*?</div>', page, re.S)[0]
    links = re.findall(r'<a href="#(id_\w+)">([^<]+)</a>', summary)
    assert links == [
        ("id_email", "Indiquez une adresse e-mail de la forme nom@exemple.fr."),
        ("id_full_name", "Indiquez vos prénom et nom, comme sur votre boîte aux lettres."),
        ("id_address_line1", "Indiquez votre adresse : numéro et rue."),
        ("id_postal_code", "Indiquez votre code postal."),
        ("id_city", "Indiquez votre ville."),
    ]
    assert "Ce champ est obligatoire" not in page
    assert 'id="id_city_error">Indiquez votre ville.' in page
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="id_city"', page)


def test_a_page_without_errors_has_no_error_prefix_and_messages_take_focus(client, dress):
    fill_cart(client, dress)  # "… is in your cart." message, shown on the cart page

    page = client.get(reverse("shop:cart")).content.decode()

    assert not title(page).startswith("Erreur")
    messages = re.search(r'<div class="messages"[^>]*>', page)[0]
    assert 'tabindex="-1"' in messages and "data-focus-on-load" in messages
    assert "aria-live" not in messages and 'role="alert"' not in page
    assert "js/focus-on-load.js" in page


def test_french_catalogue_text_is_marked_french_on_english_pages(client, dress, english):
    fill_cart(client, dress)

    listing = client.get(reverse("shop:product_list")).content.decode()
    detail = client.get(reverse("shop:product_detail", kwargs={"slug": "robe"})).content.decode()
    cart = client.get(reverse("shop:cart")).content.decode()

    assert '<h2 lang="fr">Robe portefeuille</h2>' in listing
    assert '<h1 lang="fr">Robe portefeuille</h1>' in detail
    assert 'class="description" lang="fr"' in detail
    assert 'lang="fr">Robe portefeuille</a>' in cart


def test_product_card_pictures_are_decorative_so_the_link_is_named_by_the_product(client, dress):
    dress.product.image = "products/robe.svg"
    dress.product.save()

    page = client.get(reverse("shop:product_list")).content.decode()

    link = re.search(r'<a class="product-card-link".*?</a>', page, re.S)[0]
    assert 'alt=""' in link
    assert "Robe rose portée de face" not in link


def test_the_cart_line_has_a_stepper_bounded_by_stock(client, dress):
    fill_cart(client, dress, quantity=3)  # all three in stock

    page = client.get(reverse("shop:cart")).content.decode()

    less = re.search(r'<button type="submit" name="quantity" value="2"[^>]*>', page)[0]
    more = re.search(r'<button type="submit" name="quantity" value="4"[^>]*>', page)[0]
    assert "disabled" not in less
    assert "disabled" in more
    response = client.post(reverse("shop:cart_update"), {"variant": dress.pk, "quantity": "2"})
    assert response.status_code == 302
    assert client.session["cart"] == {str(dress.pk): 2}


def test_the_payment_step_shows_brand_marks_and_a_security_line(client, dress):
    fill_cart(client, dress)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})

    page = client.get(reverse("shop:checkout_payment")).content.decode()

    label = re.search(r'<label for="method-card">.*?</label>', page, re.S)[0]
    for brand, alt in (
        ("visa", "Visa"),
        ("mastercard", "Mastercard"),
        ("amex", "American Express"),
    ):
        assert re.search(rf'<img src="[^"]*img/marks/{brand}\.svg" alt="{alt}"', label)
    assert re.search(r'img/marks/paypal\.svg" alt=""', page)  # beside the word PayPal
    assert "Paiement sécurisé : connexion chiffrée (HTTPS)" in page


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_providers_card_page_names_the_merchant_and_the_amount(
    client, dress, settings, language, request
):
    settings.SHOP_COMPANY = {**settings.SHOP_COMPANY, "trade_name": "Maison Claire"}
    if language == "en":
        request.getfixturevalue("english")
    fill_cart(client, dress)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
    card_page = client.post(reverse("shop:checkout_payment")).url

    page = client.get(card_page).content.decode()

    expected = {
        "fr": (
            "Paiement à <strong>Maison Claire</strong>",
            "Autoriser 135,90",
            'placeholder="MM/AA"',
        ),
        "en": (
            "Payment to <strong>Maison Claire</strong>",
            "Authorize €135.90",
            'placeholder="MM/YY"',
        ),
    }[language]
    for text in expected:
        assert text in page


def test_the_review_step_links_the_terms_and_states_the_obligation_to_pay(client, dress):
    checkout_until_review(client, dress)

    page = client.get(reverse("shop:checkout_review")).content.decode()

    assert "Commander avec obligation de paiement – 143,90" in page
    note = re.search(r'<p class="terms-note".*?</p>', page, re.S)[0]
    assert f'href="{reverse("shop:legal_terms")}"' in note
    assert f'href="{reverse("shop:legal_returns")}"' in note
    assert "Livraison estimée" in page
    # The items come before the button on a phone: the compact summary opens on review.
    assert re.search(r'<details class="order-summary order-summary-compact" open', page)
    assert page.index("order-summary-compact") < page.index("obligation de paiement")


LEGAL = {
    "legal_terms": "/legal/terms/",
    "legal_notice": "/legal/notice/",
    "legal_returns": "/legal/returns/",
    "legal_contact": "/contact/",
    "legal_privacy": "/legal/privacy/",
}


@pytest.mark.parametrize("name", LEGAL)
def test_each_legal_page_exists_in_both_languages_with_the_company_details(client, settings, name):
    settings.SHOP_COMPANY = {**settings.SHOP_COMPANY, "legal_name": "Maison Claire SARL"}
    assert reverse(f"shop:{name}") == LEGAL[name]

    for prefix, lang in (("", "fr"), ("/en", "en")):
        response = client.get(prefix + LEGAL[name])
        assert response.status_code == 200
        page = response.content.decode()
        assert f'<html lang="{lang}">' in page
        assert len(re.findall(r"<h1[ >]", page)) == 1
        assert "Maison Claire SARL" in page
        # Every page links every legal page from its footer, in its own language.
        for path in LEGAL.values():
            assert f'href="{prefix}{path}"' in page


def test_the_returns_page_gives_fourteen_days_in_both_languages(client):
    french = client.get("/legal/returns/").content.decode()
    english = client.get("/en/legal/returns/").content.decode()

    assert "Votre droit de rétractation : 14 jours" in french
    assert "Your right to withdraw: 14 days" in english


def test_the_delivery_step_estimates_a_date_per_method(client, dress, monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: date(2026, 12, 3))  # a Thursday
    fill_cart(client, dress)
    client.post(reverse("shop:checkout_details"), DETAILS)

    page = client.get(reverse("shop:checkout_shipping")).content.decode()

    standard = re.search(r'data-testid="estimate-standard">([^<]*)<', page)[1]
    express = re.search(r'data-testid="estimate-express">([^<]*)<', page)[1]
    assert standard == "Livraison estimée : entre le mardi 8 décembre et le jeudi 10 décembre"
    assert express == "Livraison estimée : vendredi 4 décembre"


def test_working_days_skip_weekends_and_french_public_holidays():
    assert date(2026, 5, 14) in french_public_holidays(2026)  # Ascension
    assert date(2026, 4, 6) in french_public_holidays(2026)  # Easter Monday
    friday = date(2026, 12, 4)
    assert add_working_days(friday, 1) == date(2026, 12, 7)
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)  # over Christmas
    estimate = delivery_estimate("standard", today=date(2026, 4, 30))  # Thursday before 1 May
    # 1 May and 8 May are public holidays.
    assert (estimate.earliest, estimate.latest) == (date(2026, 5, 6), date(2026, 5, 11))
    assert delivery_estimate("teleport") is None


def test_a_page_reporting_a_failure_has_the_error_prefix_in_its_title(client, dress):
    from tests.helpers import DECLINED

    checkout_until_review(client, dress, number=DECLINED)
    response = client.post(reverse("shop:checkout_review"), review_form(client), follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("shop:checkout_payment")
    assert title(page).startswith("Erreur : Paiement")
    assert '<span class="visually-hidden">Erreur : </span>' in page
