import uuid

import pytest

from orders.exceptions import InvalidOrderTransition, OrderAlreadyShipped, OutOfStock
from orders.models import Order, OrderStatus, Shipment
from orders.services import order_confirm, order_fail_payment, order_place, order_ship
from orders.signals import order_shipped
from tests.factories import ProductVariantFactory
from tests.helpers import customer, place_order

pytestmark = pytest.mark.django_db


def place(quantities, **kwargs):
    return order_place(
        checkout_token=kwargs.get("token", uuid.uuid4()),
        quantities=quantities,
        customer=customer(),
        shipping_method=kwargs.get("shipping_method", "standard"),
        language="fr",
    )


def test_placing_copies_lines_and_reserves_stock():
    dress = ProductVariantFactory(product__name="Robe", product__price_amount=12900, stock=3)
    scarf = ProductVariantFactory(product__name="Foulard", product__price_amount=4500, stock=1)

    order = place({dress.pk: 2, scarf.pk: 1}, shipping_method="express")

    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.subtotal_amount == 2 * 12900 + 4500
    assert order.shipping_amount == 1490
    assert order.total_amount == order.subtotal_amount + 1490
    lines = {line.product_name: line for line in order.lines.all()}
    assert (
        lines["Robe"].quantity,
        lines["Robe"].unit_price_amount,
        lines["Robe"].total_amount,
    ) == (
        2,
        12900,
        25800,
    )
    dress.refresh_from_db()
    scarf.refresh_from_db()
    assert (dress.stock, scarf.stock) == (1, 0)

    # Later price changes do not touch the order.
    dress.product.price_amount = 1
    dress.product.save()
    assert order.lines.get(product_name="Robe").unit_price_amount == 12900


def test_placing_more_than_the_stock_reserves_nothing():
    dress = ProductVariantFactory(stock=3)
    scarf = ProductVariantFactory(stock=1, size="TU")

    with pytest.raises(OutOfStock, match="TU"):
        place({dress.pk: 1, scarf.pk: 2})

    dress.refresh_from_db()
    assert dress.stock == 3
    assert not Order.objects.exists()


def test_an_empty_cart_or_unknown_variant_cannot_be_placed():
    with pytest.raises(OutOfStock):
        place({})
    with pytest.raises(OutOfStock):
        place({999999: 1})


def test_placing_twice_with_the_same_checkout_token_returns_the_first_order():
    variant = ProductVariantFactory(stock=3)
    token = uuid.uuid4()

    first = place({variant.pk: 1}, token=token)
    second = place({variant.pk: 1}, token=token)

    assert first.pk == second.pk
    variant.refresh_from_db()
    assert variant.stock == 2


def test_a_failed_payment_gives_the_stock_back_once():
    variant = ProductVariantFactory(stock=3)
    order = place({variant.pk: 2})

    order_fail_payment(order_id=order.pk)
    order_fail_payment(order_id=order.pk)

    variant.refresh_from_db()
    assert variant.stock == 3
    with pytest.raises(InvalidOrderTransition):
        order_confirm(order_id=order.pk)


def test_a_pending_order_cannot_ship():
    order = place({ProductVariantFactory().pk: 1})

    with pytest.raises(InvalidOrderTransition):
        order_ship(order_id=order.pk, carrier="colissimo")

    assert not Shipment.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_shipping_sends_order_shipped_inside_the_transaction():
    order = place_order({ProductVariantFactory().pk: 1})
    seen = []

    def receiver(sender, order, shipment, **kwargs):
        from django.db import connection

        seen.append((order.status, shipment.amount, connection.in_atomic_block))

    order_shipped.connect(receiver)
    try:
        order_ship(order_id=order.pk, carrier="colissimo")
    finally:
        order_shipped.disconnect(receiver)

    assert seen == [(OrderStatus.SHIPPED, order.total_amount, True)]


def test_a_failing_receiver_rolls_the_shipment_back():
    order = place_order({ProductVariantFactory().pk: 1})

    def receiver(**kwargs):
        raise RuntimeError("crash after the shipment row was written")

    order_shipped.connect(receiver)
    try:
        with pytest.raises(RuntimeError):
            order_ship(order_id=order.pk, carrier="colissimo")
    finally:
        order_shipped.disconnect(receiver)

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert not Shipment.objects.exists()


def test_a_second_shipment_is_refused():
    order = place_order({ProductVariantFactory().pk: 1})
    order_ship(order_id=order.pk, carrier="colissimo")

    with pytest.raises(OrderAlreadyShipped):
        order_ship(order_id=order.pk, carrier="dhl")

    assert Shipment.objects.count() == 1
