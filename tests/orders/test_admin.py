import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from orders.models import OrderStatus, Shipment
from payments.models import LedgerEvent, PaymentLedgerEntry
from tests.factories import ProductVariantFactory
from tests.helpers import DECLINED, place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def order():
    return place_order({ProductVariantFactory(product__price_amount=5000).pk: 1})


def ship_url(*orders):
    return reverse("admin:orders_order_ship") + "?ids=" + ",".join(str(o.pk) for o in orders)


def test_the_change_page_shows_payment_ledger_and_a_ship_button(staff_client, order):
    response = staff_client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "ship-link" in page
    assert "authorize-payment-" in page  # the ledger inline
    assert "4242" in page


def test_the_change_page_of_a_declined_order_has_no_ship_button(staff_client):
    from payments.exceptions import PaymentDeclined

    with pytest.raises(PaymentDeclined):
        place_order({ProductVariantFactory().pk: 1}, number=DECLINED)
    from orders.models import Order

    declined = Order.objects.get()
    response = staff_client.get(reverse("admin:orders_order_change", args=[declined.pk]))
    assert response.status_code == 200
    assert "ship-link" not in response.content.decode()


def test_staff_ship_an_order_with_carrier_and_tracking(staff_client, order):
    response = staff_client.post(
        ship_url(order), {"carrier": "colissimo", f"tracking_{order.pk}": " 6A123 "}, follow=True
    )

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier, shipment.tracking_number) == ("colissimo", "6A123")
    assert shipment.created_by.username == "staff"
    assert PaymentLedgerEntry.objects.filter(event=LedgerEvent.REQUESTED).count() == 1
    messages = [str(m) for m in response.context["messages"]]
    assert any(order.number in m for m in messages)


def test_shipping_twice_changes_nothing(staff_client, order):
    staff_client.post(ship_url(order), {"carrier": "colissimo"})
    response = staff_client.post(ship_url(order), {"carrier": "dhl"}, follow=True)

    assert Shipment.objects.count() == 1
    assert PaymentLedgerEntry.objects.filter(event=LedgerEvent.REQUESTED).count() == 1
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert messages[-1][0] == "error"


def test_the_list_action_ships_several_orders_and_reports_each(staff_client, order, run_tasks):
    from payments.exceptions import PaymentDeclined

    other = place_order({ProductVariantFactory().pk: 1})
    with pytest.raises(PaymentDeclined):
        place_order({ProductVariantFactory().pk: 1}, number=DECLINED)
    from orders.models import Order

    declined = Order.objects.get(status=OrderStatus.PAYMENT_FAILED)
    ids = [order.pk, other.pk, declined.pk]
    response = staff_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "mark_shipped", "_selected_action": ids},
    )
    assert response.status_code == 302
    form_page = staff_client.get(response.url)
    assert form_page.status_code == 200

    # Several orders ship as a background run (tests/orders/test_bulk_shipping.py).
    staff_client.post(response.url, {"carrier": "ups"})
    run_tasks()
    report = staff_client.get(response.url).context["report"]

    assert set(Shipment.objects.values_list("order_id", flat=True)) == {order.pk, other.pk}
    assert sorted(result.shipped for result in report) == [False, True, True]


def test_a_ship_form_without_carrier_changes_nothing(staff_client, order):
    response = staff_client.post(ship_url(order), {"carrier": "pigeon"})
    assert response.status_code == 200
    assert not Shipment.objects.exists()


@pytest.mark.parametrize("ids", ["", "abc", "99999", "1,,x"])
def test_bad_ship_urls_explain_and_change_nothing(staff_client, ids):
    response = staff_client.get(reverse("admin:orders_order_ship") + "?ids=" + ids)
    assert response.status_code == 302
    assert not Shipment.objects.exists()


def test_the_order_list_has_a_fixed_number_of_queries(staff_client, django_assert_max_num_queries):
    for _ in range(3):
        place_order({ProductVariantFactory().pk: 1})
    url = reverse("admin:orders_order_changelist")
    staff_client.get(url)
    with django_assert_max_num_queries(12) as first:
        staff_client.get(url)
    for _ in range(5):
        place_order({ProductVariantFactory().pk: 1})
    with django_assert_max_num_queries(len(first.captured_queries)):
        staff_client.get(url)


def test_admin_pages_render(staff_client, order):
    for name in [
        "admin:payments_payment_changelist",
        "admin:payments_paymentledgerentry_changelist",
        "admin:payments_customeremail_changelist",
        "admin:shop_product_changelist",
    ]:
        assert staff_client.get(reverse(name)).status_code == 200
    payment = order.payments.get()
    assert (
        staff_client.get(reverse("admin:payments_payment_change", args=[payment.pk])).status_code
        == 200
    )


def test_ship_page_requires_staff(client, order):
    response = client.get(ship_url(order))
    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_staff_ship_part_of_an_order_by_line(staff_client):
    dress = ProductVariantFactory(product__price_amount=10000, stock=5)
    scarf = ProductVariantFactory(product__price_amount=5000, stock=5)
    order = place_order({dress.pk: 2, scarf.pk: 1})
    dress_line = order.lines.get(variant=dress)
    scarf_line = order.lines.get(variant=scarf)

    page = staff_client.get(ship_url(order)).content.decode()
    assert f'name="line_{dress_line.pk}"' in page

    staff_client.post(
        ship_url(order),
        {"carrier": "colissimo", f"line_{dress_line.pk}": 1, f"line_{scarf_line.pk}": 0},
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    shipment = Shipment.objects.get()
    assert [(sl.order_line_id, sl.quantity) for sl in shipment.lines.all()] == [(dress_line.pk, 1)]
    assert shipment.amount == 10000 + order.shipping_amount


def test_a_ship_form_with_nothing_chosen_changes_nothing(staff_client, order):
    line = order.lines.get()
    response = staff_client.post(ship_url(order), {"carrier": "ups", f"line_{line.pk}": 0})
    assert response.status_code == 200
    assert not Shipment.objects.exists()


def test_staff_cancel_an_order_after_confirming(staff_client, order, run_tasks):
    url = reverse("admin:orders_order_cancel") + f"?ids={order.pk}"
    assert staff_client.get(url).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED  # the GET only asks

    response = staff_client.post(url, follow=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert [m.level_tag for m in response.context["messages"]] == ["success"]
    run_tasks()
    assert order.payments.get().status == "voided"


def test_cancelling_a_shipped_order_is_refused_with_a_message(staff_client, order):
    staff_client.post(ship_url(order), {"carrier": "colissimo"})
    url = reverse("admin:orders_order_cancel") + f"?ids={order.pk}"
    response = staff_client.post(url, follow=True)
    assert [m.level_tag for m in response.context["messages"]][-1] == "error"
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_staff_refund_part_of_a_captured_order(staff_client, order, run_tasks):
    staff_client.post(ship_url(order), {"carrier": "colissimo"})
    run_tasks()
    url = reverse("admin:payments_order_refund", args=[order.pk])
    page = staff_client.get(url).content.decode()
    token = re.search(r'name="request_token" value="([^"]+)"', page)[1]

    response = staff_client.post(url, {"amount": "12,50", "request_token": token}, follow=True)
    staff_client.post(url, {"amount": "12,50", "request_token": token})  # sent twice
    run_tasks()

    assert [m.level_tag for m in response.context["messages"]] == ["success"]
    payment = order.payments.get()
    payment.refresh_from_db()
    assert payment.refunded_amount == 1250


@pytest.mark.parametrize("amount", ["0", "-3", "abc", "1,234", "12.345", "1e3", "NaN", "999999"])
def test_bad_refund_amounts_are_explained_and_change_nothing(
    staff_client, order, run_tasks, amount
):
    staff_client.post(ship_url(order), {"carrier": "colissimo"})
    run_tasks()
    url = reverse("admin:payments_order_refund", args=[order.pk])
    import uuid

    response = staff_client.post(url, {"amount": amount, "request_token": str(uuid.uuid4())})

    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert not PaymentLedgerEntry.objects.filter(operation="refund").exists()


def test_refund_before_any_capture_says_there_is_nothing_to_refund(staff_client, order):
    response = staff_client.get(reverse("admin:payments_order_refund", args=[order.pk]))
    assert response.status_code == 302


def test_the_attention_filter_lists_orders_whose_payment_failed(staff_client, order):
    other = place_order({ProductVariantFactory().pk: 1})
    order.payments.update(needs_attention=True)

    response = staff_client.get(
        reverse("admin:orders_order_changelist") + "?payment_attention=attention"
    )
    numbers = [o.number for o in response.context["cl"].result_list]
    assert numbers == [order.number]
    assert other.number not in numbers
    response = staff_client.get(
        reverse("admin:orders_order_changelist") + "?payment_attention=expiring"
    )
    assert response.status_code == 200


def test_retry_failed_captures_action(staff_client, order, run_tasks):
    from unittest import mock

    from payments.exceptions import ProviderRejected
    from payments.providers.sandbox.provider import SandboxProvider

    staff_client.post(ship_url(order), {"carrier": "colissimo"})
    with mock.patch.object(
        SandboxProvider, "capture", side_effect=ProviderRejected("x", code="processing_error")
    ):
        run_tasks()
    payment = order.payments.get()
    payment.refresh_from_db()
    assert payment.needs_attention

    response = staff_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "retry_failed_captures", "_selected_action": [order.pk]},
        follow=True,
    )
    run_tasks()

    assert [m.level_tag for m in response.context["messages"]][-1] == "success"
    payment.refresh_from_db()
    assert payment.captured_amount == order.total_amount
    assert not payment.needs_attention


def test_the_change_page_tables_have_no_empty_headers_and_scroll_by_keyboard(staff_client, order):
    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    inlines = re.findall(r'<div class="wrapper"[^>]*>', page)
    assert len(inlines) == 4  # lines, shipments, payments, ledger
    for wrapper in inlines:
        assert 'tabindex="0"' in wrapper and 'role="region"' in wrapper
        assert "aria-labelledby=" in wrapper
    assert not re.search(r"<th[^>]*>\s*</th>", page)


def test_the_read_only_tables_keep_each_rows_id_so_the_page_still_saves(staff_client, order):
    url = reverse("admin:orders_order_change", args=[order.pk])
    response = staff_client.get(url)
    page = response.content.decode()

    rows = 0
    for formset in response.context["inline_admin_formsets"]:
        prefix = formset.formset.prefix
        assert f'name="{prefix}-TOTAL_FORMS"' in page
        for index, _form in enumerate(formset.formset.forms):
            assert re.search(rf'name="{re.escape(prefix)}-{index}-id"', page)
            rows += 1
    assert rows >= 3  # a line, a payment, its ledger entries
