"""Shipping day: any number of orders, a confirmation page, a background run, a report."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from orders.bulk_shipping import (
    CHUNK_SIZE,
    shipping_run_confirm,
    shipping_run_ship_chunk,
    shipping_run_start,
)
from orders.exceptions import OrderError
from orders.models import Order, OrderStatus, Shipment, ShippingRun, ShippingRunStatus
from payments.models import LedgerEvent, PaymentLedgerEntry, PaymentStatus
from tests.factories import ProductVariantFactory
from tests.factories.orders import bulk_orders
from tests.helpers import place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def orders():
    """Three confirmed orders (50 €, 60 €, 70 € + standard delivery) and one shipped already."""
    placed = [
        place_order({ProductVariantFactory(product__price_amount=price).pk: 1})
        for price in (5000, 6000, 7000, 8000)
    ]
    Order.objects.filter(pk=placed[-1].pk).update(status=OrderStatus.SHIPPED)
    return placed


def select_all(staff_client, **filters):
    """The changelist's "select all N" then "Mark selected orders shipped"."""
    one = Order.objects.order_by("pk").first()
    url = reverse("admin:orders_order_changelist")
    if filters:
        url += "?" + "&".join(f"{k}={v}" for k, v in filters.items())
    return staff_client.post(
        url, {"action": "mark_shipped", "select_across": "1", "_selected_action": [one.pk]}
    )


def test_select_all_confirm_then_the_worker_ships_each_order_and_reports(
    staff_client, orders, run_tasks
):
    response = select_all(staff_client)
    assert response.status_code == 302
    run = ShippingRun.objects.get()
    assert run.status == ShippingRunStatus.DRAFT
    assert len(run.order_ids) == 4
    assert not Shipment.objects.exists()

    confirm = staff_client.get(response.url)
    summary = confirm.context["summary"]
    assert (summary.selected, summary.shippable, summary.not_shippable) == (4, 3, 1)
    delivery = orders[0].shipping_amount
    assert summary.value == 5000 + 6000 + 7000 + 3 * delivery

    staff_client.post(response.url, {"carrier": "colissimo"})
    run.refresh_from_db()
    assert run.status == ShippingRunStatus.QUEUED
    # The request only queued the work.
    assert not Shipment.objects.exists()
    progress = staff_client.get(reverse("admin:orders_shippingrun_progress", args=[run.pk]))
    assert progress.json() == {
        "total": 4,
        "done": 0,
        "shipped": 0,
        "refused": 0,
        "finished": False,
    }

    run_tasks()

    run.refresh_from_db()
    assert run.status == ShippingRunStatus.DONE
    assert set(Shipment.objects.values_list("order_id", flat=True)) == {o.pk for o in orders[:3]}
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.SHIPPED}
    # Every parcel's capture ran (queued with its shipment), once.
    for order in orders[:3]:
        assert order.payments.get().status == PaymentStatus.CAPTURED
    assert PaymentLedgerEntry.objects.filter(event=LedgerEvent.REQUESTED).count() == 3
    page = staff_client.get(response.url)
    report = page.context["report"]
    assert [r.shipped for r in report] == [False, True, True, True]
    assert report[0].order_id == orders[3].pk and orders[3].number in report[0].message
    assert page.context["progress"].percent == 100


def test_any_number_of_orders_goes_in_chunks_and_the_form_stays_small(staff_client, staff):
    ids = [o.pk for o in bulk_orders(CHUNK_SIZE * 2 + 5)]
    run = shipping_run_start(order_ids=ids, started_by=staff)
    response = staff_client.get(reverse("admin:orders_shippingrun", args=[run.pk]))
    assert response.context["summary"].shippable == len(ids)
    shipping_run_confirm(run_id=run.pk, carrier="dhl")
    assert DBTaskResult.objects.count() == 3  # chunks, whatever the selection's size


def test_a_chunk_run_twice_ships_each_order_once(orders, staff, run_tasks):
    run = shipping_run_start(order_ids=[o.pk for o in orders], started_by=staff)
    shipping_run_confirm(run_id=run.pk, carrier="ups")
    ids = [o.pk for o in orders]
    assert shipping_run_ship_chunk(run_id=run.pk, order_ids=ids) == 4
    assert shipping_run_ship_chunk(run_id=run.pk, order_ids=ids) == 0
    run_tasks()  # the queued chunk finds everything done
    assert Shipment.objects.count() == 3
    assert run.results.count() == 4
    assert PaymentLedgerEntry.objects.filter(event=LedgerEvent.REQUESTED).count() == 3


def test_confirming_twice_is_refused_and_queues_nothing_more(staff_client, orders):
    select_all(staff_client)
    run = ShippingRun.objects.get()
    url = reverse("admin:orders_shippingrun", args=[run.pk])
    staff_client.post(url, {"carrier": "ups"})
    queued = DBTaskResult.objects.count()
    with pytest.raises(OrderError):
        shipping_run_confirm(run_id=run.pk, carrier="ups")
    response = staff_client.post(url, {"carrier": "ups"})
    assert response.status_code == 200  # the progress page, not a second start
    assert DBTaskResult.objects.count() == queued


def test_a_bad_carrier_changes_nothing(staff_client, orders):
    select_all(staff_client)
    run = ShippingRun.objects.get()
    response = staff_client.post(
        reverse("admin:orders_shippingrun", args=[run.pk]), {"carrier": "pigeon"}
    )
    assert response.status_code == 422
    run.refresh_from_db()
    assert run.status == ShippingRunStatus.DRAFT
    assert not DBTaskResult.objects.filter(task_path__startswith="orders.").exists()


def test_one_selected_order_keeps_the_parcel_form(staff_client, orders):
    response = staff_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "mark_shipped", "_selected_action": [orders[0].pk]},
    )
    assert response.url.startswith(reverse("admin:orders_order_ship"))
    assert not ShippingRun.objects.exists()


def test_staff_without_the_shipping_permission_cannot_ship(client, orders, staff):
    clerk = get_user_model().objects.create_user("clerk", "c@example.com", "pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(clerk)
    run = shipping_run_start(order_ids=[o.pk for o in orders], started_by=staff)
    url = reverse("admin:orders_shippingrun", args=[run.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"carrier": "ups"}).status_code == 403
    assert (
        client.get(reverse("admin:orders_shippingrun_progress", args=[run.pk])).status_code == 403
    )
    # The one-order parcel form checks the same permission.
    ship = reverse("admin:orders_order_ship") + f"?ids={orders[0].pk}"
    assert client.post(ship, {"carrier": "ups"}).status_code == 403
    run.refresh_from_db()
    assert run.status == ShippingRunStatus.DRAFT
    assert not Shipment.objects.exists()


def test_an_unknown_run_is_not_found(staff_client):
    assert staff_client.get(reverse("admin:orders_shippingrun", args=[999])).status_code == 404
    url = reverse("admin:orders_shippingrun_progress", args=[999])
    assert staff_client.get(url).status_code == 404
