"""State changes of orders: one function per business verb.

Each runs in a transaction, re-reads the rows it changes with
``select_for_update`` (variants in primary-key order, so two checkouts never
deadlock) and checks the move against ``ORDER_TRANSITIONS``.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.exceptions import InvalidOrderTransition, OrderAlreadyShipped, OutOfStock
from orders.models import Order, OrderLine, OrderStatus, Shipment
from orders.shipping import SHIPPING_METHODS
from orders.signals import order_shipped
from shop.models import ProductVariant


@dataclass(frozen=True, kw_only=True)
class CustomerDetails:
    email: str
    full_name: str
    address_line1: str
    address_line2: str = ""
    postal_code: str
    city: str
    country: str
    phone: str = ""


def _lock_variants(variant_ids: list[int]) -> dict[int, ProductVariant]:
    variants = (
        ProductVariant.objects.select_for_update(of=("self",))
        .select_related("product")
        .filter(pk__in=variant_ids)
        .order_by("pk")
    )
    return {variant.pk: variant for variant in variants}


def _lock_order(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def _move(order: Order, status: str) -> None:
    if not order.can_transition_to(status):
        raise InvalidOrderTransition(
            _("Order %(number)s is “%(current)s” and cannot become “%(wanted)s”.")
            % {
                "number": order.number,
                "current": order.get_status_display(),
                "wanted": OrderStatus(status).label,
            }
        )
    order.status = status


def order_place(
    *,
    checkout_token: uuid.UUID,
    quantities: Mapping[int, int],
    customer: CustomerDetails,
    shipping_method: str,
    language: str,
) -> Order:
    """Create an order awaiting payment and reserve its stock.

    Prices and names are copied from the catalogue at this moment; nothing
    the browser sent is trusted. Idempotent per ``checkout_token``: a second
    call with the same token returns the first order and reserves nothing.
    Raises ``OutOfStock`` (nothing reserved) when a size ran out meanwhile.
    """
    existing = Order.objects.filter(checkout_token=checkout_token).first()
    if existing is not None:
        return existing
    method = SHIPPING_METHODS[shipping_method]
    try:
        with transaction.atomic():
            variants = _lock_variants(sorted(quantities))
            problems = []
            for variant_id, quantity in sorted(quantities.items()):
                variant = variants.get(variant_id)
                if variant is None or not variant.product.is_active:
                    problems.append(_("An item in your cart is no longer on sale."))
                elif quantity > variant.stock:
                    problems.append(
                        _("Only %(stock)d left in size %(size)s of %(product)s.")
                        % {
                            "stock": variant.stock,
                            "size": variant.size,
                            "product": variant.product.name,
                        }
                    )
            if problems or not quantities:
                raise OutOfStock(" ".join(problems) or _("Your cart is empty."))

            lines = []
            for variant_id, quantity in sorted(quantities.items()):
                variant = variants[variant_id]
                variant.stock -= quantity
                variant.save(update_fields=["stock"])
                price = variant.product.price_amount
                lines.append(
                    OrderLine(
                        variant=variant,
                        product_name=variant.product.name,
                        size=variant.size,
                        sku=variant.sku,
                        unit_price_amount=price,
                        quantity=quantity,
                        total_amount=price * quantity,
                    )
                )
            subtotal = sum(line.total_amount for line in lines)
            order = Order.objects.create(
                checkout_token=checkout_token,
                email=customer.email,
                full_name=customer.full_name,
                address_line1=customer.address_line1,
                address_line2=customer.address_line2,
                postal_code=customer.postal_code,
                city=customer.city,
                country=customer.country,
                phone=customer.phone,
                shipping_method=method.code,
                shipping_method_name=str(method.name),
                shipping_amount=method.price_amount,
                subtotal_amount=subtotal,
                total_amount=subtotal + method.price_amount,
                currency=method.currency,
                language=language,
            )
            for line in lines:
                line.order = order
            OrderLine.objects.bulk_create(lines)
    except IntegrityError:
        # The same checkout was submitted twice at once: the other one won.
        return Order.objects.get(checkout_token=checkout_token)
    return order


def order_confirm(*, order_id: int) -> Order:
    """Mark an order confirmed once its payment is authorized."""
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.status == OrderStatus.CONFIRMED:
            return order
        _move(order, OrderStatus.CONFIRMED)
        order.confirmed_at = timezone.now()
        order.save(update_fields=["status", "confirmed_at"])
    return order


def order_fail_payment(*, order_id: int) -> Order:
    """Mark an order's payment declined and give its reserved stock back."""
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.status == OrderStatus.PAYMENT_FAILED:
            return order
        _move(order, OrderStatus.PAYMENT_FAILED)
        order.save(update_fields=["status"])
        _release_stock(order)
    return order


def _release_stock(order: Order) -> None:
    lines = list(order.lines.exclude(variant=None))
    variants = _lock_variants([line.variant_id for line in lines])
    for line in lines:
        variant = variants[line.variant_id]
        variant.stock += line.quantity
        variant.save(update_fields=["stock"])


def order_ship(
    *,
    order_id: int,
    carrier: str,
    tracking_number: str = "",
    shipped_by: AbstractBaseUser | None = None,
) -> Shipment:
    """Record that the whole order was handed to the carrier.

    Sends ``order_shipped`` inside the same transaction, so what receivers
    record (the capture request) commits with the shipment or not at all.
    Raises ``OrderAlreadyShipped`` on a second call and
    ``InvalidOrderTransition`` for an order that is not confirmed; in both
    cases nothing changes.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.status == OrderStatus.SHIPPED:
            raise OrderAlreadyShipped(
                _("Order %(number)s was already shipped.") % {"number": order.number}
            )
        _move(order, OrderStatus.SHIPPED)
        order.shipped_at = timezone.now()
        order.save(update_fields=["status", "shipped_at"])
        shipment = Shipment.objects.create(
            order=order,
            carrier=carrier,
            tracking_number=tracking_number.strip(),
            amount=order.total_amount,
            currency=order.currency,
            created_by=shipped_by,
        )
        order_shipped.send(sender=Order, order=order, shipment=shipment)
    return shipment
