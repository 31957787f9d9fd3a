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

from orders.exceptions import (
    InvalidOrderTransition,
    OrderAlreadyShipped,
    OrderError,
    OutOfStock,
)
from orders.models import (
    PLACED_STATUSES,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentLine,
)
from orders.selectors import order_lines_left_to_ship
from orders.shipping import SHIPPING_METHODS
from orders.signals import order_cancelled, order_shipped
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


def _locked(order_id: int, locked: Order | None) -> Order:
    """The order's row under lock: the caller's (locked in the current transaction) or read now."""
    if locked is not None and locked.pk == order_id:
        return locked
    return _lock_order(order_id)


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
    return order_place_or_get(
        checkout_token=checkout_token,
        quantities=quantities,
        customer=customer,
        shipping_method=shipping_method,
        language=language,
    ).order


@dataclass(frozen=True)
class Placement:
    """The checkout's order; ``created``: placed by this call, in the caller's transaction
    (so no other transaction can see or lock its row before the caller commits)."""

    order: Order
    created: bool


def order_place_or_get(
    *,
    checkout_token: uuid.UUID,
    quantities: Mapping[int, int],
    customer: CustomerDetails,
    shipping_method: str,
    language: str,
    existing: Order | None = None,
    looked_up: bool = False,
) -> Placement:
    """``order_place``, saying whether the order was created by this call.

    ``looked_up``: the caller has just read the order of ``checkout_token``
    (``existing``, or ``None`` for none), so it is not read again. A
    concurrent placement of the same token is still caught by its unique
    constraint: the other order is returned, ``created`` false.
    """
    if not looked_up:
        existing = Order.objects.filter(checkout_token=checkout_token).first()
    if existing is not None:
        return Placement(order=existing, created=False)
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
                variant.stock -= quantity  # the row is locked: one UPDATE for every size below
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
            ProductVariant.objects.bulk_update(
                [variants[variant_id] for variant_id in sorted(quantities)], ["stock"]
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
        return Placement(order=Order.objects.get(checkout_token=checkout_token), created=False)
    return Placement(order=order, created=True)


def order_hold_for_review(*, order_id: int, locked: Order | None = None) -> Order:
    """Mark an order "being verified": authorized, but held by the fraud check.

    ``locked``: the order's row as the caller locked it in its transaction (not read again).
    """
    with transaction.atomic():
        order = _locked(order_id, locked)
        if order.status == OrderStatus.IN_REVIEW:
            return order
        _move(order, OrderStatus.IN_REVIEW)
        order.save(update_fields=["status"])
    return order


def order_confirm(*, order_id: int, locked: Order | None = None) -> Order:
    """Mark an order confirmed once its payment is authorized (and any review approved).

    ``locked``: the order's row as the caller locked it in its transaction (not read again).
    """
    with transaction.atomic():
        order = _locked(order_id, locked)
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
    _release_quantities([(line, line.quantity) for line in order.lines.all()])


def _release_quantities(lines: list[tuple[OrderLine, int]]) -> None:
    """Put quantities back in stock; a line whose variant was deleted is skipped."""
    kept = [(line, quantity) for line, quantity in lines if line.variant_id is not None]
    variants = _lock_variants(sorted({line.variant_id for line, _q in kept}))
    for line, quantity in kept:
        variant = variants.get(line.variant_id)
        if variant is not None:
            variant.stock += quantity
            variant.save(update_fields=["stock"])


def order_ship(
    *,
    order_id: int,
    carrier: str,
    tracking_number: str = "",
    lines: Mapping[int, int] | None = None,
    shipped_by: AbstractBaseUser | None = None,
) -> Shipment:
    """Record that a parcel was handed to the carrier: the whole rest, or ``lines``.

    ``lines`` maps order line ids to quantities; ``None`` ships everything
    left. The parcel's value is the value of its lines, plus shipping on the
    first parcel; the parcel that completes the order takes what remains of
    the amount due, so the parcels add up to it exactly.

    Sends ``order_shipped`` inside the same transaction, so what receivers
    record (the capture request) commits with the shipment or not at all; a
    receiver that refuses raises (``ShipmentBlocked``). What they did is read
    back from their own records, for staff, through the order admin's
    extensions (``OrderAdminExtension.shipment_messages``).
    Raises ``OrderAlreadyShipped`` when nothing is left to ship,
    ``InvalidOrderTransition`` for an order that is not confirmed, and
    ``OrderError`` for lines that are not the order's or exceed what is left;
    in every case nothing changes.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.status == OrderStatus.SHIPPED:
            raise OrderAlreadyShipped(
                _("Order %(number)s was already shipped.") % {"number": order.number}
            )
        if order.status == OrderStatus.IN_REVIEW:
            raise InvalidOrderTransition(
                _(
                    "Order %(number)s is being verified by the payment service's fraud "
                    "check: approve its payment before shipping it."
                )
                % {"number": order.number}
            )
        if not order.can_transition_to(OrderStatus.SHIPPED):
            _move(order, OrderStatus.SHIPPED)  # raises with the reason
        remaining = order_lines_left_to_ship(order=order)
        wanted = (
            {line_id: left for line_id, (_line, left) in remaining.items() if left > 0}
            if lines is None
            else {line_id: quantity for line_id, quantity in lines.items() if quantity}
        )
        if not wanted:
            raise OrderError(_("Choose at least one item to ship."))
        for line_id, quantity in wanted.items():
            if line_id not in remaining:
                raise OrderError(
                    _("That item is not part of order %(number)s.") % {"number": order.number}
                )
            line, left = remaining[line_id]
            if quantity < 0 or quantity > left:
                raise OrderError(
                    _("Only %(left)d of %(product)s (%(size)s) is left to ship, not %(wanted)d.")
                    % {
                        "left": left,
                        "product": line.product_name,
                        "size": line.size,
                        "wanted": quantity,
                    }
                )

        previous = list(order.shipments.values_list("amount", flat=True))
        is_final = all(left == wanted.get(line_id, 0) for line_id, (_l, left) in remaining.items())
        if is_final:
            amount = order.amount_due - sum(previous)
        else:
            amount = sum(remaining[i][0].unit_price_amount * q for i, q in wanted.items())
            if not previous:
                amount += order.shipping_amount

        _move(order, OrderStatus.SHIPPED if is_final else OrderStatus.PARTIALLY_SHIPPED)
        order.shipped_at = order.shipped_at or timezone.now()
        order.save(update_fields=["status", "shipped_at"])
        shipment = Shipment.objects.create(
            order=order,
            carrier=carrier,
            tracking_number=tracking_number.strip(),
            amount=amount,
            currency=order.currency,
            is_final=is_final,
            created_by=shipped_by,
        )
        ShipmentLine.objects.bulk_create(
            ShipmentLine(shipment=shipment, order_line_id=line_id, quantity=quantity)
            for line_id, quantity in sorted(wanted.items())
        )
        order_shipped.send(sender=Order, order=order, shipment=shipment)
    return shipment


def order_cancel(*, order_id: int) -> Order:
    """Cancel what has not shipped: the whole order, or the rest of a partly shipped one.

    Stock of the cancelled quantities is released and ``order.amount_due``
    drops by their value (and by shipping when nothing shipped). Sends
    ``order_cancelled`` inside the transaction: the payments side records the
    release of the hold with it. Raises ``InvalidOrderTransition`` for an
    order that is awaiting payment, declined, fully shipped or cancelled.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        if not order.is_cancellable:
            raise InvalidOrderTransition(
                _("Order %(number)s is “%(current)s”: there is nothing left to cancel.")
                % {"number": order.number, "current": order.get_status_display()}
            )
        remaining = order_lines_left_to_ship(order=order)
        cancelled_value = 0
        to_release = []
        for line, left in remaining.values():
            if left > 0:
                line.cancelled_quantity += left
                line.save(update_fields=["cancelled_quantity"])
                cancelled_value += line.unit_price_amount * left
                to_release.append((line, left))
        nothing_shipped = order.status in PLACED_STATUSES
        if nothing_shipped:
            cancelled_value += order.shipping_amount
            _move(order, OrderStatus.CANCELLED)
            order.cancelled_at = timezone.now()
        else:
            _move(order, OrderStatus.SHIPPED)
        order.cancelled_amount += cancelled_value
        order.save(update_fields=["status", "cancelled_amount", "cancelled_at"])
        _release_quantities(to_release)
        order_cancelled.send(sender=Order, order=order)
    return order


# What staff may correct on a placed order: how to reach and deliver to the customer.
CORRECTABLE_FIELDS = (
    "email",
    "full_name",
    "phone",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
)


def order_correct_address(
    *, order_id: int, changes: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """Correct the customer's contact and delivery details; returns ``{field: (before, after)}``.

    Only ``CORRECTABLE_FIELDS`` change, under the order's lock; amounts and
    statuses never do. The caller records who asked (the admin's history).
    """
    unknown = set(changes) - set(CORRECTABLE_FIELDS)
    if unknown:
        raise OrderError(_("These details cannot be corrected: %s.") % ", ".join(sorted(unknown)))
    with transaction.atomic():
        order = _lock_order(order_id)
        changed = {
            field: (getattr(order, field), value)
            for field, value in changes.items()
            if getattr(order, field) != value
        }
        for field, (_before, after) in changed.items():
            setattr(order, field, after)
        if changed:
            order.save(update_fields=list(changed))
    return changed
