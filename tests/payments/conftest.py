"""Fixtures shared by the payments tests."""

import pytest

from tests.factories import ProductVariantFactory
from tests.helpers import place_order, send_placed_emails


@pytest.fixture
def order():
    """Dress 2 × 100 €, scarf 1 × 50 €, standard shipping 6,90 €: 256,90 €."""
    dress = ProductVariantFactory(product__price_amount=10000, stock=5)
    scarf = ProductVariantFactory(product__price_amount=5000, stock=5)
    order = place_order({dress.pk: 2, scarf.pk: 1})
    send_placed_emails()
    return order
