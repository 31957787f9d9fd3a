"""Amounts, statuses and ledger entries are never editable by hand; the customer's details
change only through the audited correction; prices are entered in euros."""

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import translation

from orders.models import Order
from payments.models import (
    CustomerEmail,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    ProviderEvent,
)
from payments.operations import ledger
from shop.models import Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def editable_fields(response) -> set[str]:
    """Every input the change page's form and inline formsets would save.

    An inline's hidden identity fields (its row's id and parent) are not data.
    """
    names = set(response.context["adminform"].form.fields)
    for inline in response.context["inline_admin_formsets"]:
        for form in inline.formset.forms:
            names |= {
                f"{inline.formset.prefix}.{name}"
                for name, field in form.fields.items()
                if not field.widget.is_hidden
            }
        if inline.formset.extra or inline.has_add_permission:
            names |= {
                f"{inline.formset.prefix}.+{name}" for name in inline.formset.empty_form.fields
            }
    return names


def test_every_field_of_the_order_form_is_read_only(as_role, shipped_order):
    response = as_role("superuser").get(
        reverse("admin:orders_order_change", args=[shipped_order.pk])
    )
    assert response.status_code == 200
    assert editable_fields(response) == set()


@pytest.mark.parametrize("model", [Payment, PaymentLedgerEntry, CustomerEmail, ProviderEvent])
def test_every_field_of_the_payment_records_is_read_only(as_role, shipped_order, model):
    if model is ProviderEvent:
        ProviderEvent.objects.create(provider="stripe", event_id="evt_1", type="x", payload={})
    obj = model.objects.first()
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_change"
    response = as_role("superuser").get(reverse(name, args=[obj.pk]))
    assert response.status_code == 200
    assert editable_fields(response) == set()


def test_posting_amounts_or_a_status_to_the_order_form_changes_nothing(as_role, shipped_order):
    before = Order.objects.values().get(pk=shipped_order.pk)
    as_role("superuser").post(
        reverse("admin:orders_order_change", args=[shipped_order.pk]),
        {"total_amount": "1", "status": "cancelled", "email": "x@example.com", "city": "X"},
    )
    assert Order.objects.values().get(pk=shipped_order.pk) == before


def test_the_product_form_edits_no_amount_but_the_price_in_euros(as_role):
    product = ProductFactory(price_amount=12900)
    client = as_role("superuser")
    url = reverse("admin:shop_product_change", args=[product.pk])
    response = client.get(url)
    fields = response.context["adminform"].form.fields
    assert "price" in fields and "price_amount" not in fields and "currency" not in fields
    assert 'value="129,00"' in response.content.decode()


@pytest.mark.parametrize(("language", "typed"), [("fr", "149,90"), ("en", "149.90")])
def test_staff_enter_a_price_in_euros_in_their_locale(as_role, language, typed):
    product = ProductFactory(price_amount=12900)
    form_class = admin.site._registry[Product].form
    data = {
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "image_alt": product.image_alt,
        "price": typed,
        "position": 0,
        "is_active": "on",
    }
    with translation.override(language):
        form = form_class(data, instance=product)
        assert form.is_valid(), form.errors
        form.save()
    product.refresh_from_db()
    assert product.price_amount == 14990


@pytest.mark.parametrize("typed", ["abc", "-3", "1,234", "0"])
def test_a_bad_price_is_refused_and_changes_nothing(typed):
    product = ProductFactory(price_amount=12900)
    form_class = admin.site._registry[Product].form
    with translation.override("fr"):
        form = form_class({"name": "x", "slug": "x", "price": typed}, instance=product)
        assert not form.is_valid()
        assert "price" in form.errors
    product.refresh_from_db()
    assert product.price_amount == 12900


def test_warehouse_corrects_the_address_and_the_change_is_recorded(as_role, order):
    client = as_role("warehouse")
    url = reverse("admin:orders_order_correct_address", args=[order.pk])
    assert client.get(url).status_code == 200
    data = {
        "email": order.email,
        "full_name": order.full_name,
        "phone": "",
        "address_line1": "14 rue des Lilas",
        "address_line2": "",
        "postal_code": order.postal_code,
        "city": order.city,
        "country": order.country,
        "total_amount": "1",
    }
    response = client.post(url, data, follow=True)

    order.refresh_from_db()
    assert order.address_line1 == "14 rue des Lilas"
    assert order.total_amount != 1
    [entry] = LogEntry.objects.filter(object_id=str(order.pk))
    assert entry.user.username == "warehouse"
    assert "12 rue des Lilas" in entry.change_message
    assert "14 rue des Lilas" in entry.change_message
    assert "14 rue des Lilas" in response.content.decode()  # the timeline


def test_a_bad_correction_is_refused_and_changes_nothing(as_role, order):
    client = as_role("warehouse")
    url = reverse("admin:orders_order_correct_address", args=[order.pk])
    response = client.post(url, {"email": "not-an-email", "city": ""})
    assert response.status_code == 200
    assert response.context["form"].errors
    before = order.email
    order.refresh_from_db()
    assert order.email == before
    assert not LogEntry.objects.exists()


def test_the_french_admin_shows_no_english_on_the_order_and_payment_pages(as_role, shipped_order):
    payment = Payment.objects.get(order=shipped_order)
    ledger.record(
        payment,
        operation=LedgerOperation.REFUND,
        event="failed",
        amount=100,
        idempotency_key="refund-x",
        error_code="card_declined",
        message="Your card was declined.",
    )
    client = as_role("superuser")
    order_page = client.get(
        reverse("admin:orders_order_change", args=[shipped_order.pk]), HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    payments_list = client.get(reverse("admin:payments_payment_changelist")).content.decode()

    assert "La banque a refusé la carte." in order_page
    for english in [
        "Your card was declined",
        "Card display",
        "CARD DISPLAY",
        "Timeline",
        "attempt 1",
    ]:
        assert english not in order_page, english
    assert "Card display" not in payments_list and "carte" in payments_list.lower()


def test_the_french_ledger_entry_page_explains_the_failure_in_french(as_role, shipped_order):
    payment = Payment.objects.get(order=shipped_order)
    entry = ledger.record(
        payment,
        operation=LedgerOperation.REFUND,
        event="failed",
        amount=100,
        idempotency_key="refund-y",
        error_code="card_declined",
        message="Your card was declined.",
    )
    page = as_role("superuser").get(
        reverse("admin:payments_paymentledgerentry_change", args=[entry.pk]),
        HTTP_ACCEPT_LANGUAGE="fr",
    )

    text = page.content.decode()
    assert page.status_code == 200
    assert "La banque a refusé la carte." in text
    assert "Your card was declined" not in text
