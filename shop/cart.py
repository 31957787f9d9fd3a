"""The shopping cart, kept in the session as ``{variant_id: quantity}``.

Only identifiers and quantities are stored: names and prices are read from the
catalogue each time, so what the browser sends never sets a price.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.utils.translation import gettext as _

from shop.models import ProductVariant

MAX_QUANTITY_PER_LINE = 10


class CartError(Exception):
    """The cart cannot change as asked; ``str(error)`` is a message for the shopper."""


@dataclass(frozen=True)
class CartLine:
    variant: ProductVariant
    quantity: int

    @property
    def unit_price_amount(self) -> int:
        return self.variant.product.price_amount

    @property
    def total_amount(self) -> int:
        return self.unit_price_amount * self.quantity

    @property
    def exceeds_stock(self) -> bool:
        return self.quantity > self.variant.stock


@dataclass(frozen=True)
class CartSummary:
    lines: list[CartLine]
    currency: str = field(default_factory=lambda: settings.SHOP_CURRENCY)

    @property
    def subtotal_amount(self) -> int:
        return sum(line.total_amount for line in self.lines)

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines


class Cart:
    SESSION_KEY = "cart"

    def __init__(self, session: SessionBase) -> None:
        self.session = session
        self._summary: CartSummary | None = None

    def quantities(self) -> dict[int, int]:
        raw = self.session.get(self.SESSION_KEY, {})
        return {int(k): int(v) for k, v in raw.items()}

    def is_empty(self) -> bool:
        """Whether the session holds no line (no query; ``summary()`` also drops withdrawn items)."""
        return not self.session.get(self.SESSION_KEY)

    def _save(self, quantities: dict[int, int]) -> None:
        self.session[self.SESSION_KEY] = {str(k): v for k, v in quantities.items() if v > 0}
        self._summary = None

    def add(self, variant: ProductVariant, quantity: int = 1) -> None:
        quantities = self.quantities()
        wanted = quantities.get(variant.pk, 0) + quantity
        self._check(variant, wanted)
        quantities[variant.pk] = wanted
        self._save(quantities)

    def set_quantity(self, variant: ProductVariant, quantity: int) -> None:
        quantities = self.quantities()
        if quantity <= 0:
            quantities.pop(variant.pk, None)
        else:
            self._check(variant, quantity)
            quantities[variant.pk] = quantity
        self._save(quantities)

    def remove(self, variant_id: int) -> None:
        quantities = self.quantities()
        quantities.pop(variant_id, None)
        self._save(quantities)

    def clear(self) -> None:
        self.session.pop(self.SESSION_KEY, None)
        self._summary = None

    def summary(self) -> CartSummary:
        """The cart's lines with their variants and products: one query, once per ``Cart``."""
        if self._summary is None:
            self._summary = self._read_summary()
        return self._summary

    def _read_summary(self) -> CartSummary:
        quantities = self.quantities()
        if not quantities:
            return CartSummary(lines=[])
        # Sorted here, not by the database: the model's default ordering (by the
        # product's own ordering) costs a sort and most of the query's compilation.
        variants = (
            ProductVariant.objects.select_related("product")
            .filter(pk__in=quantities, product__is_active=True)
            .order_by()
        )
        lines = [CartLine(variant=v, quantity=quantities[v.pk]) for v in variants]
        lines.sort(
            key=lambda line: (line.variant.product.name, line.variant.position, line.variant.pk)
        )
        return CartSummary(lines=lines)

    @staticmethod
    def _check(variant: ProductVariant, quantity: int) -> None:
        if not variant.product.is_active:
            raise CartError(_("This product is no longer on sale."))
        if quantity > MAX_QUANTITY_PER_LINE:
            raise CartError(
                _("You can order at most %(max)d of the same item.")
                % {"max": MAX_QUANTITY_PER_LINE}
            )
        if variant.stock == 0:
            raise CartError(
                _("Size %(size)s of %(product)s is out of stock.")
                % {"size": variant.size, "product": variant.product.name}
            )
        if quantity > variant.stock:
            raise CartError(
                _("Only %(stock)d left in size %(size)s of %(product)s.")
                % {"stock": variant.stock, "size": variant.size, "product": variant.product.name}
            )
