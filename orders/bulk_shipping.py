"""Shipping day: many orders marked shipped at once, in the background.

Staff select any number of orders (the admin's "select all" included) and
the selection is kept in a ``ShippingRun`` (``shipping_run_start``), never in
a URL or a form. A confirmation page shows what will happen in a fixed number
of queries (``shipping_run_summary``); confirming (``shipping_run_confirm``)
enqueues the work in chunks, in the same transaction, and the request returns
at once. The worker ships each order through ``order_ship``, one transaction
per order, and records its ``ShippingRunResult`` in that same transaction:
so the parcel, its capture request (the ``order_shipped`` receivers) and the
report line commit together or not at all, and an order is shipped at most
once per run however often a chunk runs (a unique constraint). The admin
polls ``shipping_run_progress`` for the progress bar, then shows the report.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.exceptions import OrderError
from orders.models import (
    SHIPPABLE_STATUSES,
    Order,
    OrderStatus,
    Shipment,
    ShippingRun,
    ShippingRunResult,
    ShippingRunStatus,
)
from orders.permissions import can_ship
from orders.services import order_ship

# Orders per task: chunks let several workers share a shipping day.
CHUNK_SIZE = 100


def can_ship_orders(user: AbstractBaseUser) -> bool:
    """Whether this staff member may mark orders shipped: the Warehouse role's check."""
    return can_ship(user)


@dataclass(frozen=True)
class ShippingRunSummary:
    """What confirming a run would do: counts by outcome, and the value to capture."""

    selected: int
    shippable: int
    not_shippable: int
    value: int
    currency: str
    by_status: list[tuple[str, int]]


@dataclass(frozen=True)
class ShippingRunProgress:
    total: int
    done: int
    shipped: int
    refused: int
    finished: bool

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.done * 100 // self.total


def shipping_run_start(*, order_ids: list[int], started_by: AbstractBaseUser) -> ShippingRun:
    """Keep a selection of orders for confirmation; nothing ships yet."""
    return ShippingRun.objects.create(
        order_ids=sorted(set(order_ids)), created_by=started_by, status=ShippingRunStatus.DRAFT
    )


def shipping_run_summary(*, run: ShippingRun) -> ShippingRunSummary:
    """Counts by status and the value of the parcels that would ship: three queries."""
    orders = Order.objects.filter(pk__in=run.order_ids)
    counts = dict(orders.order_by().values_list("status").annotate(n=Count("pk")))
    shippable = orders.filter(status__in=SHIPPABLE_STATUSES)
    due = shippable.aggregate(
        due=Coalesce(Sum("total_amount"), 0) - Coalesce(Sum("cancelled_amount"), 0)
    )["due"]
    already = Shipment.objects.filter(order__in=shippable).aggregate(
        value=Coalesce(Sum("amount"), 0)
    )["value"]
    n_shippable = sum(n for status, n in counts.items() if status in SHIPPABLE_STATUSES)
    return ShippingRunSummary(
        selected=sum(counts.values()),
        shippable=n_shippable,
        not_shippable=sum(counts.values()) - n_shippable,
        value=due - already,
        currency=settings.SHOP_CURRENCY,
        by_status=[(OrderStatus(status).label, n) for status, n in sorted(counts.items())],
    )


def shipping_run_confirm(*, run_id: int, carrier: str) -> ShippingRun:
    """Start shipping: the run's chunks are enqueued in the same transaction.

    Only the orders that still exist are kept. Raises ``OrderError`` for a run
    confirmed already, so a second click does not ship twice.
    """
    with transaction.atomic():
        run = ShippingRun.objects.select_for_update().get(pk=run_id)
        if run.status != ShippingRunStatus.DRAFT:
            raise OrderError(_("This shipping run was started already."))
        run.order_ids = list(
            Order.objects.filter(pk__in=run.order_ids).order_by("pk").values_list("pk", flat=True)
        )
        run.carrier = carrier
        run.status = ShippingRunStatus.QUEUED
        run.confirmed_at = timezone.now()
        if not run.order_ids:
            run.status, run.finished_at = ShippingRunStatus.DONE, run.confirmed_at
        run.save(update_fields=["order_ids", "carrier", "status", "confirmed_at", "finished_at"])
        for start in range(0, len(run.order_ids), CHUNK_SIZE):
            shipping_run_chunk_task.enqueue(
                run_id=run.pk, order_ids=run.order_ids[start : start + CHUNK_SIZE]
            )
    return run


def _ship_one(run: ShippingRun, order_id: int) -> None:
    """Ship one order and record the outcome, in one transaction (once per run)."""
    try:
        with transaction.atomic():
            try:
                shipment = order_ship(
                    order_id=order_id, carrier=run.carrier, shipped_by=run.created_by
                )
            except OrderError as error:
                ShippingRunResult.objects.create(run=run, order_id=order_id, message=str(error))
            else:
                ShippingRunResult.objects.create(run=run, order_id=order_id, shipment=shipment)
    except IntegrityError:
        pass  # another run of this chunk recorded this order first: its outcome stands


def shipping_run_ship_chunk(*, run_id: int, order_ids: list[int]) -> int:
    """Ship the chunk's orders not yet done in this run; returns how many it handled."""
    run = ShippingRun.objects.select_related("created_by").filter(pk=run_id).first()
    if run is None or run.status == ShippingRunStatus.DRAFT:
        return 0
    done = set(
        ShippingRunResult.objects.filter(run=run, order_id__in=order_ids).values_list(
            "order_id", flat=True
        )
    )
    todo = [pk for pk in order_ids if pk not in done]
    existing = set(Order.objects.filter(pk__in=todo).values_list("pk", flat=True))
    for order_id in todo:
        if order_id in existing:
            _ship_one(run, order_id)
    if ShippingRunResult.objects.filter(run=run).count() >= run.order_count:
        ShippingRun.objects.filter(pk=run.pk, status=ShippingRunStatus.QUEUED).update(
            status=ShippingRunStatus.DONE, finished_at=timezone.now()
        )
    return len(todo)


@task()
def shipping_run_chunk_task(*, run_id: int, order_ids: list[int]) -> int:
    return shipping_run_ship_chunk(run_id=run_id, order_ids=order_ids)


def shipping_run_progress(*, run: ShippingRun) -> ShippingRunProgress:
    """How far the run is: one query."""
    counts = ShippingRunResult.objects.filter(run=run).aggregate(
        done=Count("pk"), shipped=Count("pk", filter=Q(shipment__isnull=False))
    )
    return ShippingRunProgress(
        total=run.order_count,
        done=counts["done"],
        shipped=counts["shipped"],
        refused=counts["done"] - counts["shipped"],
        finished=run.status == ShippingRunStatus.DONE,
    )


def shipping_run_report(*, run: ShippingRun) -> list[ShippingRunResult]:
    """One line per order handled, refused first: one query."""
    results = ShippingRunResult.objects.filter(run=run).select_related("order", "shipment")
    return sorted(results, key=lambda result: (result.shipped, result.pk))
