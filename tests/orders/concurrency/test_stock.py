"""The last units of a size, ordered by many shoppers at once, on real PostgreSQL transactions.

Placing an order reads and decrements the stock under a row lock; without it
concurrent checkouts read the same stock and all succeed. Each trial starts
8 threads placing an order for one unit of a size with 1 to 3 units left:
exactly as many orders as units, the others told it sold out, stock zero.
"""

import random
import uuid
from functools import partial

import pytest
from django.db.models import Sum

from orders.exceptions import OutOfStock
from orders.models import Order, OrderLine
from orders.services import order_place
from tests.factories import ProductVariantFactory
from tests.helpers import customer
from tests.payments.concurrency.test_races import THREADS, Problems, run_together, run_trials

pytestmark = pytest.mark.django_db(transaction=True)

TRIALS = 20


def last_units_trial() -> list[str]:
    units = random.randint(1, 3)
    variant = ProductVariantFactory(stock=units)
    place = partial(
        order_place,
        quantities={variant.pk: 1},
        customer=customer(),
        shipping_method="standard",
        language="fr",
    )

    outcomes = run_together([partial(place, checkout_token=uuid.uuid4()) for _ in range(THREADS)])

    problems = Problems()
    placed = [outcome.value for outcome in outcomes if outcome.error is None]
    sold_out = [outcome for outcome in outcomes if isinstance(outcome.error, OutOfStock)]
    problems.expect(len(placed) == units, f"{len(placed)} orders placed for {units} units")
    problems.expect(
        len(sold_out) == THREADS - units,
        f"{len(sold_out)} shoppers told it sold out, not {THREADS - units}",
    )
    problems.extend(
        f"thread {index} {outcome.describe()}"
        for index, outcome in enumerate(outcomes)
        if outcome.error is not None and not isinstance(outcome.error, OutOfStock)
    )
    variant.refresh_from_db()
    problems.expect(variant.stock == 0, f"stock left {variant.stock}, not 0")
    ordered = OrderLine.objects.filter(variant=variant).aggregate(n=Sum("quantity"))["n"] or 0
    problems.expect(ordered == units, f"{ordered} units ordered, {units} in stock")
    problems.expect(
        Order.objects.filter(lines__variant=variant).count() == len(placed), "orders without lines"
    )
    return problems


def test_threads_ordering_the_last_units_get_exactly_the_units_the_rest_are_told_sold_out():
    run_trials(last_units_trial, TRIALS)
