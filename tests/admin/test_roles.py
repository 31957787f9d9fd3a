"""Warehouse and Finance: each sees and can do exactly its part; forged requests are refused."""

import pytest
from django.urls import reverse

from orders.models import OrderStatus, Shipment
from payments.models import LedgerEvent, LedgerOperation, PaymentLedgerEntry

pytestmark = pytest.mark.django_db

LINKS = {
    "ship-link",
    "cancel-order-link",
    "correct-address-link",
    "approve-review-link",
    "refund-link",
    "retry-link",
    "emails-link",
}


def change_page(client, order):
    return client.get(reverse("admin:orders_order_change", args=[order.pk]))


def links_on(response) -> set[str]:
    page = response.content.decode()
    return {link for link in LINKS if f'class="{link}"' in page}


def list_actions(client) -> set[str]:
    response = client.get(reverse("admin:orders_order_changelist"))
    assert response.status_code == 200
    return {name for name, _label in response.context["action_form"].fields["action"].choices} - {
        ""
    }


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("warehouse", {"mark_shipped"}),
        (
            "finance",
            {"cancel", "approve_review", "retry_failed_captures", "refund", "resend_email"},
        ),
        (
            "superuser",
            {
                "mark_shipped",
                "cancel",
                "approve_review",
                "retry_failed_captures",
                "refund",
                "resend_email",
            },
        ),
    ],
)
def test_each_role_sees_exactly_its_list_actions(as_role, order, role, expected):
    assert list_actions(as_role(role)) == expected


@pytest.mark.parametrize(
    ("role", "confirmed", "in_review", "shipped"),
    [
        (
            "warehouse",
            {"ship-link", "correct-address-link"},
            {"correct-address-link"},
            {"correct-address-link"},
        ),
        (
            "finance",
            {"cancel-order-link"},
            {"cancel-order-link", "approve-review-link", "emails-link"},
            {"refund-link", "emails-link"},
        ),
    ],
)
def test_each_role_sees_exactly_its_buttons(
    as_role, order, order_in_review, shipped_order, role, confirmed, in_review, shipped
):
    client = as_role(role)
    assert links_on(change_page(client, order_in_review)) == in_review
    assert links_on(change_page(client, shipped_order)) == shipped


def test_the_buttons_of_a_confirmed_order_per_role(as_role, order):
    assert links_on(change_page(as_role("warehouse"), order)) == {
        "ship-link",
        "correct-address-link",
    }
    # The e-mail sent at placement can be resent by Finance.
    assert links_on(change_page(as_role("finance"), order)) == {
        "cancel-order-link",
        "emails-link",
    }


def test_staff_without_a_role_cannot_see_orders(as_role, order):
    client = as_role("nobody")
    assert change_page(client, order).status_code == 403
    assert client.get(reverse("admin:orders_order_changelist")).status_code == 403


def test_warehouse_forging_finance_requests_is_refused(as_role, order_in_review, shipped_order):
    client = as_role("warehouse")
    forged = [
        reverse("admin:payments_order_approve_review", args=[order_in_review.pk]),
        reverse("admin:payments_order_refund", args=[shipped_order.pk]),
        reverse("admin:payments_order_retry_captures", args=[shipped_order.pk]),
        reverse("admin:payments_order_emails", args=[shipped_order.pk]),
        reverse("admin:orders_order_cancel") + f"?ids={order_in_review.pk}",
    ]
    for url in forged:
        assert client.post(url, {"amount": "10,00", "email": "1"}).status_code == 403, url
    client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "approve_review", "_selected_action": [order_in_review.pk]},
    )
    assert not PaymentLedgerEntry.objects.filter(
        operation__in=[LedgerOperation.APPROVE_REVIEW, LedgerOperation.REFUND]
    ).exists()
    order_in_review.refresh_from_db()
    assert order_in_review.status == OrderStatus.IN_REVIEW


def test_finance_forging_a_shipment_is_refused(as_role, order):
    client = as_role("finance")
    url = reverse("admin:orders_order_ship") + f"?ids={order.pk}"
    assert client.post(url, {"carrier": "colissimo"}).status_code == 403
    client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "mark_shipped", "_selected_action": [order.pk]},
    )
    assert not Shipment.objects.exists()
    correct = reverse("admin:orders_order_correct_address", args=[order.pk])
    assert client.post(correct, {"city": "Lyon"}).status_code == 403


def test_finance_approves_a_review_from_the_order_page(as_role, order_in_review, run_tasks):
    client = as_role("finance")
    url = reverse("admin:payments_order_approve_review", args=[order_in_review.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, follow=True)

    [message] = list(response.context["messages"])
    assert message.level_tag == "success"
    run_tasks()
    order_in_review.refresh_from_db()
    assert order_in_review.status == OrderStatus.CONFIRMED
    page = change_page(client, order_in_review).content.decode()
    assert 'id="timeline"' in page
    assert "finance" in page  # who approved, in the timeline


def test_warehouse_ships_and_shipping_an_order_in_review_says_so_once(
    as_role, order, order_in_review
):
    client = as_role("warehouse")
    url = reverse("admin:orders_order_ship") + f"?ids={order_in_review.pk}"
    response = client.post(url, {"carrier": "colissimo"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]

    url = reverse("admin:orders_order_ship") + f"?ids={order.pk}"
    response = client.post(url, {"carrier": "colissimo"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["success"]
    assert Shipment.objects.get().created_by.username == "warehouse"


def test_finance_refunds_part_of_an_order_and_resends_an_email(as_role, shipped_order, run_tasks):
    client = as_role("finance")
    url = reverse("admin:payments_order_refund", args=[shipped_order.pk])
    response = client.post(
        url,
        {"amount": "10,00", "request_token": "6a3f0c1e-8d1b-4a57-9e8e-1a2b3c4d5e6f"},
        follow=True,
    )
    [message] = list(response.context["messages"])
    assert message.level_tag == "success"
    assert PaymentLedgerEntry.objects.filter(
        operation=LedgerOperation.REFUND, event=LedgerEvent.REQUESTED, amount=1000
    ).exists()

    from payments.models import CustomerEmail

    email = CustomerEmail.objects.order_by("pk").first()
    url = reverse("admin:payments_order_emails", args=[shipped_order.pk])
    assert client.get(url).status_code == 200
    token = "0b8e7c52-61c4-4f0e-a2b1-3d4c5e6f7a8b"
    client.post(url, {"email": email.pk, "request_token": token})
    client.post(url, {"email": email.pk, "request_token": token}, follow=True)  # a double submit
    assert CustomerEmail.objects.filter(key__startswith="resend-").count() == 1
    response = client.post(url, {"email": "999999", "request_token": token}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
