import re
import uuid

import pytest
from django.apps import apps
from django.urls import reverse

from orders.models import Order, OrderStatus
from payments.models import LedgerEvent, Payment, PaymentLedgerEntry, PaymentStatus
from tests.factories import ProductVariantFactory
from tests.helpers import APPROVED_VISA, DECLINED, INSUFFICIENT_FUNDS

pytestmark = pytest.mark.django_db

DETAILS = {
    "email": "claire@example.com",
    "full_name": "Claire Dubois",
    "address_line1": "12 rue des Lilas",
    "postal_code": "75011",
    "city": "Paris",
    "country": "FR",
}


@pytest.fixture
def variant():
    return ProductVariantFactory(product__price_amount=12900, product__slug="robe", stock=3)


def fill_cart(client, variant, quantity=1):
    response = client.post(
        reverse("shop:cart_add", kwargs={"slug": variant.product.slug}),
        {"variant": variant.pk, "quantity": quantity, "price_amount": 1},
    )
    assert response.status_code == 302


def enter_card(client, number=APPROVED_VISA, expiry="12/34", code="123"):
    """Go through the payment step and the sandbox's hosted card page."""
    response = client.post(reverse("shop:checkout_payment"))
    assert response.status_code == 302
    card_page = response.url
    assert card_page.startswith("/sandbox/pay/")
    response = client.post(card_page, {"number": number, "expiry": expiry, "security_code": code})
    if response.status_code != 302:
        return response
    return client.get(response.url)  # back at the shop's return URL


def checkout_until_review(client, variant, number=APPROVED_VISA, quantity=1):
    fill_cart(client, variant, quantity)
    assert client.post(reverse("shop:checkout_details"), DETAILS).status_code == 302
    response = client.post(reverse("shop:checkout_shipping"), {"shipping_method": "express"})
    assert response.status_code == 302
    response = enter_card(client, number)
    assert response.status_code == 302
    assert response.url == reverse("shop:checkout_review")


def test_an_approved_card_confirms_the_order_and_holds_the_amount(client, variant):
    checkout_until_review(client, variant, quantity=2)

    response = client.post(reverse("shop:checkout_review"), review_form(client), follow=True)

    order = Order.objects.get()
    assert order.status == OrderStatus.CONFIRMED
    assert order.total_amount == 2 * 12900 + 1490  # prices from the server, not the form
    assert [
        (line.product_name, line.quantity, line.unit_price_amount) for line in order.lines.all()
    ] == [(variant.product.name, 2, 12900)]
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.AUTHORIZED
    assert payment.authorized_amount == order.total_amount
    assert payment.captured_amount == 0
    assert (payment.card_brand, payment.card_last4) == ("Visa", "4242")
    assert payment.authorization_expires_at is not None
    variant.refresh_from_db()
    assert variant.stock == 1

    page = response.content.decode()
    assert order.number in page
    assert "272,90" in page
    assert "Aucun montant n’a encore été débité" in page
    # The cart is emptied once the order is confirmed.
    assert client.session.get("cart") is None


def test_the_shop_never_receives_the_card_number_or_security_code(client, variant):
    checkout_until_review(client, variant)
    client.post(reverse("shop:checkout_review"), review_form(client))

    session_blob = str(dict(client.session))
    assert APPROVED_VISA not in session_blob
    assert "123" not in re.sub(r"[0-9a-f-]{36}", "", str(client.session.get("checkout", {})))
    for model in apps.get_models():
        for row in model.objects.values_list():
            assert APPROVED_VISA not in str(row), model


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (DECLINED, "declined the card"),
        (INSUFFICIENT_FUNDS, "insufficient funds"),
    ],
)
def test_a_declined_card_keeps_the_cart_and_releases_the_stock(
    client, variant, number, message, english
):
    checkout_until_review(client, variant, number=number)

    response = client.post(reverse("shop:checkout_review"), review_form(client), follow=True)

    assert response.redirect_chain[-1][0] == reverse("shop:checkout_payment")
    assert message in response.content.decode()
    order = Order.objects.get()
    assert order.status == OrderStatus.PAYMENT_FAILED
    assert Payment.objects.get(order=order).status == PaymentStatus.FAILED
    assert PaymentLedgerEntry.objects.filter(event=LedgerEvent.FAILED).count() == 1
    variant.refresh_from_db()
    assert variant.stock == 3
    assert client.session["cart"] == {str(variant.pk): 1}

    # Another attempt with a good card goes through as a new order.
    response = enter_card(client, APPROVED_VISA)
    response = client.post(reverse("shop:checkout_review"), review_form(client))
    assert response.status_code == 302
    assert Order.objects.filter(status=OrderStatus.CONFIRMED).count() == 1


def review_form(client) -> dict:
    page = client.get(reverse("shop:checkout_review")).content.decode()
    return {"checkout_token": re.search(r'name="checkout_token" value="([^"]+)"', page)[1]}


def test_placing_the_same_checkout_twice_creates_one_order(client, variant):
    checkout_until_review(client, variant)
    form = review_form(client)

    first = client.post(reverse("shop:checkout_review"), form)
    again = client.post(reverse("shop:checkout_review"), form)  # double click, back button

    assert again.url == first.url
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1
    variant.refresh_from_db()
    assert variant.stock == 2


def test_a_stale_review_form_is_not_placed(client, variant):
    checkout_until_review(client, variant)

    response = client.post(reverse("shop:checkout_review"), {"checkout_token": str(uuid.uuid4())})

    assert response.url == reverse("shop:checkout_review")
    assert not Order.objects.exists()


def test_a_size_that_ran_out_before_placing_sends_the_shopper_back_to_the_cart(client, variant):
    checkout_until_review(client, variant, quantity=2)
    variant.stock = 1
    variant.save()

    response = client.post(reverse("shop:checkout_review"), review_form(client), follow=True)

    assert response.redirect_chain[-1][0] == reverse("shop:cart")
    assert not Order.objects.exists()
    assert not Payment.objects.exists()
    variant.refresh_from_db()
    assert variant.stock == 1


def test_steps_cannot_be_skipped(client, variant):
    fill_cart(client, variant)
    response = client.get(reverse("shop:checkout_review"))
    assert response.url == reverse("shop:checkout_details")
    client.post(reverse("shop:checkout_details"), DETAILS)
    response = client.get(reverse("shop:checkout_review"))
    assert response.url == reverse("shop:checkout_shipping")


def test_checkout_with_an_empty_cart_goes_to_the_cart(client):
    response = client.get(reverse("shop:checkout_details"))
    assert response.url == reverse("shop:cart")


def test_invalid_details_are_explained_and_nothing_is_kept(client, variant):
    fill_cart(client, variant)
    response = client.post(reverse("shop:checkout_details"), {**DETAILS, "email": "nope"})
    assert response.status_code == 422
    assert "checkout" not in client.session or not client.session["checkout"].get("customer")


def test_an_unknown_shipping_method_is_refused(client, variant):
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)
    response = client.post(reverse("shop:checkout_shipping"), {"shipping_method": "teleport"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("number", "expiry", "code", "error", "number_kept"),
    [
        ("4242424242424241", "12/34", "123", "not valid", False),
        ("6011111111111117", "12/34", "123", "Visa, Mastercard and American Express", False),
        (APPROVED_VISA, "01/20", "123", "expired", True),
        (APPROVED_VISA, "13/30", "123", "between 01 and 12", True),
        (APPROVED_VISA, "12/34", "", "security code", True),
        (APPROVED_VISA, "12/34", "1234", "3 digits", True),
        ("378282246310005", "12/34", "123", "4 digits", True),
        ("4111111111111111", "12/34", "123", "only the test cards", False),
    ],
)
def test_the_card_form_explains_what_is_wrong(
    client, variant, number, expiry, code, error, number_kept, english
):
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})

    response = enter_card(client, number, expiry, code)

    assert response.status_code == 422
    page = response.content.decode()
    assert error in page
    number_input = re.search(r'<input id="id_number"[^>]*>', page)[0]
    # A wrong number is wiped; a good one is kept when another field was wrong
    # (the provider's page answers the same request; nothing is stored).
    assert (f'value="{number}"' in number_input) is number_kept
    assert number_kept or "value=" not in number_input
    code_input = re.search(r'<input id="id_security_code"[^>]*>', page)[0]
    assert "value=" not in code_input
    assert "payment" not in client.session.get("checkout", {})


def test_amex_with_a_four_digit_code_is_accepted(client, variant):
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
    response = enter_card(client, "3782 822463 10005", "12/34", "1234")
    assert response.url == reverse("shop:checkout_review")
    assert client.session["checkout"]["payment"]["brand"] == "American Express"
    assert client.session["checkout"]["payment"]["last4"] == "0005"


def test_the_return_page_ignores_a_forged_or_unfinished_session(client, variant):
    fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
    for session_id in ["cs_forged", "", "x" * 500]:
        response = client.get(reverse("shop:checkout_payment_return"), {"session_id": session_id})
        assert response.url == reverse("shop:checkout_payment")
    assert "payment" not in client.session["checkout"]


def test_an_order_page_is_only_shown_to_the_browser_that_placed_it(client, variant):
    checkout_until_review(client, variant)
    response = client.post(reverse("shop:checkout_review"), review_form(client))
    assert client.get(response.url).status_code == 200

    client.logout()
    client.cookies.clear()
    assert client.get(response.url).status_code == 404
    assert client.get(f"/orders/{uuid.uuid4()}/").status_code == 404
    assert client.get("/orders/not-a-uuid/").status_code == 404


def test_a_card_held_for_fraud_review_places_the_order_as_being_verified(client, variant, english):
    checkout_until_review(client, variant, number="4000000000009235")

    response = client.post(reverse("shop:checkout_review"), review_form(client), follow=True)

    order = Order.objects.get()
    assert order.status == OrderStatus.IN_REVIEW
    page = response.content.decode()
    assert "Your order is being verified." in page
    assert client.session.get("cart") is None


THREE_DS = "4000002760003184"


def place_with_challenge(client, variant, outcome):
    checkout_until_review(client, variant, number=THREE_DS)
    response = client.post(reverse("shop:checkout_review"), review_form(client))
    challenge = response.url
    assert challenge.startswith("/sandbox/3ds/")
    order = Order.objects.get()
    assert order.status == OrderStatus.PENDING_PAYMENT  # nothing decided before the bank
    assert client.get(challenge).status_code == 200
    response = client.post(challenge, {"outcome": outcome})
    return client.get(response.url, follow=True)


def test_3d_secure_approved_continues_to_the_authorization(client, variant):
    response = place_with_challenge(client, variant, "approve")

    order = Order.objects.get()
    assert order.status == OrderStatus.CONFIRMED
    assert Payment.objects.get().status == PaymentStatus.AUTHORIZED
    assert response.redirect_chain[-1][0] == reverse(
        "shop:order_confirmation", kwargs={"token": order.token}
    )
    assert client.session.get("cart") is None


@pytest.mark.parametrize(
    ("outcome", "message"),
    [("fail", "could not confirm"), ("abandon", "was not finished")],
)
def test_3d_secure_failed_or_abandoned_keeps_the_cart(client, variant, english, outcome, message):
    response = place_with_challenge(client, variant, outcome)

    assert response.redirect_chain[-1][0] == reverse("shop:checkout_payment")
    assert message in response.content.decode()
    order = Order.objects.get()
    assert order.status == OrderStatus.PAYMENT_FAILED
    variant.refresh_from_db()
    assert variant.stock == 3
    assert client.session["cart"] == {str(variant.pk): 1}


def test_the_authentication_return_reads_the_provider_not_the_url(client, variant):
    checkout_until_review(client, variant, number=THREE_DS)
    client.post(reverse("shop:checkout_review"), review_form(client))

    # Coming back without going through the bank's page does not authorize.
    response = client.get(reverse("shop:checkout_authentication_return") + "?status=succeeded")

    assert response.url == reverse("shop:checkout_payment")
    assert Order.objects.get().status == OrderStatus.PAYMENT_FAILED


def test_checkout_pages_have_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    variants = [ProductVariantFactory(stock=5) for _ in range(4)]
    fill_cart(client, variants[0])
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
    enter_card(client)
    pages = [
        reverse("shop:checkout_details"),
        reverse("shop:checkout_shipping"),
        reverse("shop:checkout_payment"),
        reverse("shop:checkout_review"),
    ]
    counts = {}
    for page in pages:
        with django_assert_max_num_queries(6) as captured:
            assert client.get(page).status_code == 200
        counts[page] = len(captured.captured_queries)
    for variant in variants[1:]:
        fill_cart(client, variant)
    for page in pages:
        with django_assert_max_num_queries(counts[page]):
            client.get(page)


def test_the_confirmation_page_has_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    variants = [ProductVariantFactory(stock=5) for _ in range(3)]
    for variant in variants:
        fill_cart(client, variant)
    client.post(reverse("shop:checkout_details"), DETAILS)
    client.post(reverse("shop:checkout_shipping"), {"shipping_method": "standard"})
    enter_card(client)
    confirmation = client.post(reverse("shop:checkout_review"), review_form(client)).url
    # The session, the order, its lines, parcels, payments and their ledger.
    with django_assert_max_num_queries(6):
        assert client.get(confirmation).status_code == 200
