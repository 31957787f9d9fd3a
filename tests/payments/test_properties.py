"""Property-based test of an order's money life: ship, cancel, refund, approve, and the worker.

A hypothesis state machine places one authorized order per example (now and
then with the sandbox's fraud-review card) and interleaves, at random, what
staff and the worker do to it: ship part of what is left, one item, or all of
it; ask for lines the order cannot ship; cancel the rest; approve a payment
in review; ask refunds (valid amounts and bad ones); run the worker normally,
with the provider down or with the provider's answer lost on the way back;
deliver a task a second time; and let time pass so that deferred tasks are
due. After every step it checks that the shop's amounts, its ledger, the
sandbox's own records and the customer e-mails agree. At the end it drains
the queue (no more outages) and checks that every parcel was charged exactly
once and that nothing is left held on the card of an order with nothing left
to ship.

Each step is one rule, ``act``, that draws its action from a weighted list
(see ``ACTIONS``). Each example runs in a savepoint that ``teardown`` rolls
back, inside the test's transaction: every example starts from an empty
database (checked in ``__init__``). Run with ``-s`` to see what the examples
reached.
"""

import contextlib
import functools
import itertools
import sys
from collections import Counter, defaultdict
from unittest import mock

import pytest
from django.core import mail
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from hypothesis import HealthCheck
from hypothesis import event as hypothesis_event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.internal.conjecture import engine
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from orders.exceptions import InvalidOrderTransition, OrderError
from orders.models import (
    OPEN_STATUSES,
    SHIPPABLE_STATUSES,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentLine,
)
from orders.services import order_cancel, order_ship
from payments.exceptions import InvalidPaymentTransition, ProviderUnavailable
from payments.models import (
    REFUNDABLE_STATUSES,
    VOIDABLE_STATUSES,
    CustomerEmail,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
)
from payments.providers.sandbox.models import (
    SandboxCapture,
    SandboxCharge,
    SandboxIdempotencyRecord,
)
from payments.providers.sandbox.provider import SandboxProvider
from payments.services import (
    payment_approve_review,
    payment_capture,
    payment_refund,
    payment_request_refund,
    payment_request_review_approval,
    payment_void,
)
from shop.models import ProductVariant
from tests.factories import ProductVariantFactory
from tests.helpers import APPROVED_VISA, place_order, run_tasks

REVIEW_CARD = "4000000000009235"  # authorized, then held for fraud review
TERMINAL = {LedgerEvent.SUCCEEDED, LedgerEvent.FAILED}
WORKER_OPERATIONS = (
    LedgerOperation.CAPTURE,
    LedgerOperation.VOID,
    LedgerOperation.REFUND,
    LedgerOperation.APPROVE_REVIEW,
)
EMAIL_KIND = {
    LedgerOperation.CAPTURE: CustomerEmail.Kind.CAPTURED,
    LedgerOperation.REFUND: CustomerEmail.Kind.REFUNDED,
    LedgerOperation.VOID: CustomerEmail.Kind.VOIDED,
    LedgerOperation.APPROVE_REVIEW: CustomerEmail.Kind.REVIEW_APPROVED,
}
RUN_DIRECTLY = {
    LedgerOperation.CAPTURE: payment_capture,
    LedgerOperation.VOID: payment_void,
    LedgerOperation.REFUND: payment_refund,
    LedgerOperation.APPROVE_REVIEW: payment_approve_review,
}
SHIPPABLE = SHIPPABLE_STATUSES
CANCELLABLE = OPEN_STATUSES
DRAIN_ROUNDS = 15
# The actions a step draws from, with their weights (hypothesis shrinks towards the first).
ACTIONS = [
    "run_worker",  # (also drawn whenever hypothesis tries the simplest choice)
    *["ship_one_item"] * 3,
    *["ship_some"] * 2,
    "ship_everything_left",
    *["run_worker_with_faulty_provider"] * 3,
    *["refund"] * 3,
    *["time_passes"] * 2,
    "deliver_a_task_again",
    "cancel",
    *["approve_review"] * 2,
    "ship_what_the_order_cannot_ship",
]

# What the examples reached, printed at the end of the test (run with ``-s``).
EXPLORED: Counter = Counter()


def event(label: str) -> None:
    EXPLORED[label] += 1
    with contextlib.suppress(InvalidArgument):  # outside a hypothesis run
        hypothesis_event(label)


# Reading the database -----------------------------------------------------------


def _remaining(order: Order) -> dict[int, tuple[OrderLine, int]]:
    """Each line of the order with what is left to ship, computed here, not by the service."""
    shipped = Counter()
    for line_id, quantity in ShipmentLine.objects.filter(shipment__order=order).values_list(
        "order_line_id", "quantity"
    ):
        shipped[line_id] += quantity
    return {
        line.pk: (line, line.quantity - shipped[line.pk] - line.cancelled_quantity)
        for line in order.lines.order_by("pk")
    }


def _events_by_key(payment: Payment) -> dict[str, set[str]]:
    events: dict[str, set[str]] = defaultdict(set)
    for key, event_ in payment.ledger.values_list("idempotency_key", "event"):
        events[key].add(event_)
    return events


def _requests(payment: Payment, operation: str | None = None) -> list[PaymentLedgerEntry]:
    entries = payment.ledger.filter(event=LedgerEvent.REQUESTED).order_by("pk")
    if operation is not None:
        entries = entries.filter(operation=operation)
    return list(entries)


def _pending(payment: Payment, operation: str) -> list[PaymentLedgerEntry]:
    events = _events_by_key(payment)
    return [e for e in _requests(payment, operation) if not events[e.idempotency_key] & TERMINAL]


def _history(payment: Payment, key: str) -> str:
    return "; ".join(
        f"{e.event} {e.error_code} {e.message}".strip()
        for e in payment.ledger.filter(idempotency_key=key).order_by("pk")
    )


def _snapshot(order_id: int) -> dict:
    """Everything a refused action must leave as it was."""
    order = Order.objects.get(pk=order_id)
    return {
        "order": (order.status, order.cancelled_amount, order.shipped_at, order.cancelled_at),
        "lines": list(order.lines.order_by("pk").values_list("pk", "cancelled_quantity")),
        "stock": list(ProductVariant.objects.order_by("pk").values_list("pk", "stock")),
        "payments": list(
            Payment.objects.filter(order_id=order_id)
            .order_by("pk")
            .values_list("pk", "status", "captured_amount", "refunded_amount", "needs_attention")
        ),
        "shipments": list(Shipment.objects.order_by("pk").values_list("pk", "amount")),
        "shipment_lines": ShipmentLine.objects.count(),
        "ledger": list(PaymentLedgerEntry.objects.order_by("pk").values_list("pk", flat=True)),
        "tasks": list(DBTaskResult.objects.order_by("pk").values_list("pk", "status")),
        "emails": CustomerEmail.objects.count(),
        "sandbox_moves": SandboxCapture.objects.count(),
        "sandbox_records": SandboxIdempotencyRecord.objects.count(),
        "sandbox_charges": list(
            SandboxCharge.objects.order_by("pk").values_list(
                "pk", "status", "review", "captured_amount", "refunded_amount"
            )
        ),
    }


def _make_all_due() -> None:
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())


def _answer_lost(method: str):
    """The provider does the work, but its answer never reaches the shop."""
    real = getattr(SandboxProvider, method)

    def call_then_lose_the_answer(self, request):
        real(self, request)
        raise ProviderUnavailable("connection reset after the provider answered")

    return call_then_lose_the_answer


def _step(function):
    """Mark the machine dirty while a step runs: teardown only drains after clean steps."""

    @functools.wraps(function)
    def wrapper(self, *args, **kwargs):
        self.clean = False
        function(self, *args, **kwargs)
        self.clean = True

    return wrapper


# The machine --------------------------------------------------------------------


class PaymentLifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Isolation: what the previous example wrote was rolled back.
        for model in (
            Order,
            Payment,
            PaymentLedgerEntry,
            Shipment,
            CustomerEmail,
            SandboxCapture,
            SandboxCharge,
            DBTaskResult,
            ProductVariant,
        ):
            assert not model.objects.exists(), f"{model.__name__} rows leaked from an example"
        mail.outbox = []
        self.order_id = None
        self.in_review_at_checkout = False
        self.refund_tokens: list[str] = []
        self.token_numbers = itertools.count(1)
        self.clean = True
        self.atomic = transaction.atomic()
        self.atomic.__enter__()

    def teardown(self):
        try:
            # Drain only after an example that ran to its end (not after a failed
            # step, nor when hypothesis abandons an example).
            if self.clean and self.order_id is not None and sys.exc_info()[0] is None:
                self.drain_and_check_settled()
                self.record_what_happened()
        finally:
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)

    @initialize(
        lines=st.lists(
            st.tuples(st.integers(1, 30_000), st.integers(1, 3)), min_size=1, max_size=3
        ).filter(lambda lines: sum(quantity for _price, quantity in lines) >= 2),
        shipping_method=st.sampled_from(["standard", "express"]),
        card=st.sampled_from([APPROVED_VISA, APPROVED_VISA, REVIEW_CARD]),
    )
    @_step
    def place(self, lines, shipping_method, card):
        quantities = {}
        for price, quantity in lines:
            variant = ProductVariantFactory(product__price_amount=price, stock=quantity + 2)
            quantities[variant.pk] = quantity
        order = place_order(quantities, shipping_method=shipping_method, number=card)
        payment = Payment.objects.get(order=order)
        self.in_review_at_checkout = card == REVIEW_CARD
        if self.in_review_at_checkout:
            assert (order.status, payment.status) == (
                OrderStatus.IN_REVIEW,
                PaymentStatus.IN_REVIEW,
            )
        else:
            assert (order.status, payment.status) == (
                OrderStatus.CONFIRMED,
                PaymentStatus.AUTHORIZED,
            )
        assert payment.authorized_amount == order.total_amount
        self.order_id = order.pk

    # Helpers ----------------------------------------------------------------------

    @property
    def order(self) -> Order:
        return Order.objects.get(pk=self.order_id)

    @property
    def payment(self) -> Payment:
        return Payment.objects.get(order_id=self.order_id)

    def expect_refused(self, exception, call):
        """A refused action raises ``exception`` and changes nothing at all."""
        before = _snapshot(self.order_id)
        with pytest.raises(exception):
            call()
        assert _snapshot(self.order_id) == before, "a refused action changed something"

    def ship(self, lines):
        """Ship ``lines`` (None: everything left) and check the parcel, or its refusal."""
        order = self.order
        if order.status not in SHIPPABLE:
            self.expect_refused(
                OrderError, lambda: order_ship(order_id=self.order_id, carrier="ups", lines=lines)
            )
            return
        remaining = _remaining(order)
        previous = list(order.shipments.values_list("amount", flat=True))
        wanted = (
            {line_id: left for line_id, (_line, left) in remaining.items() if left > 0}
            if lines is None
            else {line_id: quantity for line_id, quantity in lines.items() if quantity}
        )
        is_final = all(left == wanted.get(line_id, 0) for line_id, (_l, left) in remaining.items())
        if is_final:
            expected = order.amount_due - sum(previous)
        else:
            expected = sum(remaining[i][0].unit_price_amount * q for i, q in wanted.items())
            expected += 0 if previous else order.shipping_amount
        captures_before = len(_requests(self.payment, LedgerOperation.CAPTURE))

        shipment = order_ship(order_id=self.order_id, carrier="colissimo", lines=lines)

        assert (shipment.amount, shipment.is_final) == (expected, is_final)
        order = self.order
        assert order.status == (OrderStatus.SHIPPED if is_final else OrderStatus.PARTIALLY_SHIPPED)
        after = _remaining(order)
        for line_id, quantity in wanted.items():
            assert after[line_id][1] == remaining[line_id][1] - quantity
        # The capture request was written with the parcel, for its value.
        captures = _requests(self.payment, LedgerOperation.CAPTURE)
        assert len(captures) == captures_before + 1
        assert (captures[-1].shipment_id, captures[-1].amount) == (shipment.pk, shipment.amount)

    # The one rule: a step is one action, drawn with weights ------------------------
    #
    # (One rule per action would let hypothesis's swarm testing switch off a
    # random subset of the rules in each example: most examples then never ship,
    # and refunds, which need a captured parcel first, almost never run.)

    @rule(data=st.data())
    @_step
    def act(self, data):
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        EXPLORED[f"action {action}"] += 1
        getattr(self, action)(data)

    # Staff actions ------------------------------------------------------------------

    def ship_some(self, data):
        """Ship a random non-empty part of what is left."""
        remaining = _remaining(self.order)
        left_over = sorted(line_id for line_id, (_line, left) in remaining.items() if left)
        if not left_over:
            self.ship(None)
            return
        first = data.draw(st.sampled_from(left_over), label="line")
        self.ship(
            {
                line_id: data.draw(st.integers(line_id == first, left), label=f"line {line_id}")
                for line_id, (_line, left) in remaining.items()
            }
        )

    def ship_one_item(self, data):
        remaining = _remaining(self.order)
        left_over = sorted(line_id for line_id, (_line, left) in remaining.items() if left)
        self.ship({data.draw(st.sampled_from(left_over), label="line"): 1} if left_over else None)

    def ship_everything_left(self, data):
        self.ship(None)

    def ship_what_the_order_cannot_ship(self, data):
        """Too many, a negative quantity, another order's line, nothing: refused, no change."""
        remaining = _remaining(self.order)
        mistake = data.draw(
            st.sampled_from(["too_many", "negative", "foreign_line", "nothing"]), label="mistake"
        )
        line_id = data.draw(st.sampled_from(sorted(remaining)), label="line")
        extra = data.draw(st.integers(1, 3), label="by")
        lines = {
            "too_many": {line_id: remaining[line_id][1] + extra},
            "negative": {line_id: -extra},
            "foreign_line": {(OrderLine.objects.aggregate(m=Max("pk"))["m"] or 0) + extra: 1},
            "nothing": dict.fromkeys(remaining, 0),
        }[mistake]
        self.expect_refused(
            OrderError, lambda: order_ship(order_id=self.order_id, carrier="ups", lines=lines)
        )

    def cancel(self, data):
        """Cancel what has not shipped; a second click is refused and changes nothing."""
        clicks = data.draw(st.integers(1, 2), label="clicks")
        order = self.order
        if order.status not in CANCELLABLE:
            self.expect_refused(InvalidOrderTransition, lambda: order_cancel(order_id=order.pk))
            return
        value = sum(line.unit_price_amount * left for line, left in _remaining(order).values())
        nothing_shipped = order.status in (OrderStatus.IN_REVIEW, OrderStatus.CONFIRMED)
        if nothing_shipped:
            value += order.shipping_amount
        voidable = self.payment.status in VOIDABLE_STATUSES

        order_cancel(order_id=order.pk)

        after = self.order
        assert after.cancelled_amount == order.cancelled_amount + value
        assert after.status == (OrderStatus.CANCELLED if nothing_shipped else OrderStatus.SHIPPED)
        assert all(left == 0 for _line, left in _remaining(after).values())
        assert len(_requests(self.payment, LedgerOperation.VOID)) == (1 if voidable else 0)
        if clicks == 2:
            self.expect_refused(InvalidOrderTransition, lambda: order_cancel(order_id=order.pk))

    def approve_review(self, data):
        """Staff approve the fraud review of an order being verified; a second click is a no-op.

        Approving anything else, a cancelled (rejected) order included, is refused
        and changes nothing.
        """
        clicks = data.draw(st.integers(1, 2), label="clicks")
        call = functools.partial(payment_request_review_approval, order_id=self.order_id)
        if self.order.status != OrderStatus.IN_REVIEW:
            self.expect_refused(InvalidPaymentTransition, call)
            return
        for _click in range(clicks):
            call()
        assert len(_requests(self.payment, LedgerOperation.APPROVE_REVIEW)) == 1

    def refund(self, data):
        """Ask a refund: a valid amount, 0, negative, too large, or the same request again."""
        kind = data.draw(
            st.sampled_from(["valid", "valid", "zero", "negative", "too_large", "same_token"]),
            label="kind",
        )
        payment = self.payment
        pending = sum(e.amount for e in _pending(payment, LedgerOperation.REFUND))
        available = payment.captured_amount - payment.refunded_amount - pending
        if kind == "same_token" and self.refund_tokens:
            # The same request again (a double submit): nothing new, whatever the amount.
            token = data.draw(st.sampled_from(self.refund_tokens), label="token")
            amount = data.draw(st.integers(-100, 100_000), label="amount")
            before = _snapshot(self.order_id)
            payment_request_refund(payment_id=payment.pk, amount=amount, request_token=token)
            assert _snapshot(self.order_id) == before, "a repeated refund request changed things"
            return
        if kind in ("valid", "same_token"):
            amount = data.draw(st.integers(1, max(available, 1)), label="amount")
        elif kind == "zero":
            amount = 0
        elif kind == "negative":
            amount = -data.draw(st.integers(1, 10_000), label="minus")
        else:
            amount = available + data.draw(st.integers(1, 10_000), label="excess")
        token = f"staff-{next(self.token_numbers)}"
        call = functools.partial(
            payment_request_refund, payment_id=payment.pk, amount=amount, request_token=token
        )
        if payment.status in REFUNDABLE_STATUSES and 0 < amount <= available:
            call()
            [requested] = PaymentLedgerEntry.objects.filter(
                idempotency_key=f"refund-{token}", event=LedgerEvent.REQUESTED
            )
            assert requested.amount == amount
            self.refund_tokens.append(token)
        else:
            self.expect_refused(InvalidPaymentTransition, call)

    # The worker and time ------------------------------------------------------------

    def run_worker(self, data):
        run_tasks()

    def run_worker_with_faulty_provider(self, data):
        """One worker run while one provider call fails in transit.

        ``unavailable``: the provider is down (503), nothing moves.
        ``answer_lost``: the provider does the work but its answer is lost.
        Either way the service schedules a retry with the same key.
        """
        fault = data.draw(st.sampled_from(["unavailable", "answer_lost"]), label="fault")
        method = data.draw(
            st.sampled_from(["capture", "void", "capture", "refund", "approve_review"]),
            label="provider call",
        )
        if fault == "unavailable":
            patch = mock.patch.object(
                SandboxProvider, method, side_effect=ProviderUnavailable("503 Service Unavailable")
            )
        else:
            patch = mock.patch.object(SandboxProvider, method, _answer_lost(method))
        with patch:
            run_tasks()

    def time_passes(self, data):
        """Deferred tasks become due: all of them, or only one (a random one)."""
        waiting = list(
            DBTaskResult.objects.filter(status="READY", run_after__gt=timezone.now())
            .order_by("enqueued_at", "pk")
            .values_list("pk", flat=True)
        )
        if waiting and data.draw(st.booleans(), label="only one"):
            due = data.draw(st.sampled_from(waiting), label="task")
            DBTaskResult.objects.filter(pk=due).update(run_after=timezone.now())
        else:
            _make_all_due()

    def deliver_a_task_again(self, data):
        """A duplicate delivery of an already requested operation, run right now."""
        requests = _requests(self.payment)
        if requests:
            requested = data.draw(st.sampled_from(requests), label="request")
            RUN_DIRECTLY[requested.operation](
                payment_id=requested.payment_id,
                idempotency_key=requested.idempotency_key,
                attempt=1,
            )

    # Invariants (after every step) ---------------------------------------------------

    @invariant()
    @_step
    def the_worker_never_crashes(self):
        crashed = DBTaskResult.objects.filter(status="FAILED")
        assert not crashed.exists(), [
            (t.task_path, t.args_kwargs["kwargs"], t.exception_class_path, t.traceback[-300:])
            for t in crashed
        ]

    @invariant()
    @_step
    def money_adds_up(self):
        if self.order_id is None:
            return
        order = self.order
        shipped = sum(order.shipments.values_list("amount", flat=True))
        assert shipped <= order.amount_due
        assert order.cancelled_amount + shipped <= order.total_amount

        shipment_of_key = {}
        for payment in Payment.objects.filter(order=order):
            assert payment.captured_amount <= payment.authorized_amount
            assert payment.refunded_amount <= payment.captured_amount
            assert payment.failure_code != "unexpected_status", payment.failure_message
            succeeded = list(payment.ledger.filter(event=LedgerEvent.SUCCEEDED))
            captures = [e for e in succeeded if e.operation == LedgerOperation.CAPTURE]
            refunds = [e for e in succeeded if e.operation == LedgerOperation.REFUND]
            assert payment.captured_amount == sum(e.amount for e in captures)
            assert payment.refunded_amount == sum(e.amount for e in refunds)
            per_parcel = Counter(e.shipment_id for e in captures)
            assert all(n == 1 for n in per_parcel.values()), f"a parcel charged twice: {per_parcel}"

            # The sandbox moved exactly what the shop recorded, but for answers
            # still on their way back (a request with no outcome yet).
            events = _events_by_key(payment)
            succeeded_keys = {e.idempotency_key for e in succeeded}
            charge = SandboxCharge.objects.get(pk=payment.provider_reference)
            moves = list(SandboxCapture.objects.filter(charge=charge))
            for kind, shop_amount, sandbox_amount in (
                (SandboxCapture.Kind.CAPTURE, payment.captured_amount, charge.captured_amount),
                (SandboxCapture.Kind.REFUND, payment.refunded_amount, charge.refunded_amount),
            ):
                of_kind = [m for m in moves if m.kind == kind]
                recorded = [m for m in of_kind if m.idempotency_key in succeeded_keys]
                assert sum(m.amount for m in recorded) == shop_amount, (kind, recorded)
                assert sum(m.amount for m in of_kind) == sandbox_amount, (kind, of_kind)
            for move in moves:
                if move.idempotency_key not in succeeded_keys:
                    assert events[move.idempotency_key] & TERMINAL == set(), (
                        f"{move} moved money at the provider but the shop recorded a failure: "
                        + _history(payment, move.idempotency_key)
                    )
            for entry in payment.ledger.filter(operation=LedgerOperation.CAPTURE):
                shipment_of_key[entry.idempotency_key] = entry.shipment_id
        # At most one capture at the provider per key (a unique constraint) and per parcel.
        keys = SandboxCapture.objects.filter(kind=SandboxCapture.Kind.CAPTURE).values_list(
            "idempotency_key", flat=True
        )
        per_parcel = Counter(shipment_of_key.get(key) for key in keys)
        assert None not in per_parcel, "a capture at the provider that names no parcel"
        assert all(n == 1 for n in per_parcel.values()), f"a parcel captured twice: {per_parcel}"

    @invariant()
    @_step
    def one_email_per_success(self):
        if self.order_id is None:
            return
        expected = {}
        for entry in PaymentLedgerEntry.objects.filter(
            order_id=self.order_id, event=LedgerEvent.SUCCEEDED, operation__in=WORKER_OPERATIONS
        ):
            expected[f"{EMAIL_KIND[entry.operation]}-{entry.idempotency_key}"] = entry
        emails = {e.key: e for e in CustomerEmail.objects.filter(order_id=self.order_id)}
        in_review = {k for k, e in emails.items() if e.kind == CustomerEmail.Kind.IN_REVIEW}
        assert len(in_review) == (1 if self.in_review_at_checkout else 0)
        # Placed: one e-mail, unless held for review (that one says so instead).
        placed = {k for k, e in emails.items() if e.kind == CustomerEmail.Kind.PLACED}
        assert len(placed) == (0 if self.in_review_at_checkout else 1)
        in_review |= placed
        if self.order.status == OrderStatus.CANCELLED:
            # An approval that lost the race with the cancellation confirms
            # nothing and tells the customer nothing.
            expected = {
                key: entry
                for key, entry in expected.items()
                if entry.operation != LedgerOperation.APPROVE_REVIEW or key in emails
            }
        assert set(emails) - in_review == set(expected), (sorted(emails), sorted(expected))
        assert CustomerEmail.objects.count() == len(emails)
        for key, entry in expected.items():
            email = emails[key]
            assert email.kind == EMAIL_KIND[entry.operation]
            assert email.amount == entry.amount
            assert email.ledger_entry.idempotency_key == entry.idempotency_key

    # The end ----------------------------------------------------------------------

    def record_what_happened(self):
        """Label the example's outcome, after the drain (see it with ``-s``)."""
        order = self.order
        event(f"order ends {order.status}")
        event(f"{order.shipments.count()} shipment(s)")
        ledger = PaymentLedgerEntry.objects.filter(order_id=self.order_id)
        if ledger.filter(event=LedgerEvent.RETRY_SCHEDULED).exists():
            event("a retry or deferral was scheduled")
        for operation in WORKER_OPERATIONS:
            if ledger.filter(operation=operation, event=LedgerEvent.SUCCEEDED).exists():
                event(f"a {operation} succeeded")

    def moot(self, requested: PaymentLedgerEntry) -> bool:
        """An approval overtaken by the order's cancellation is dropped, quietly."""
        failure = requested.payment.ledger.filter(
            idempotency_key=requested.idempotency_key, event=LedgerEvent.FAILED
        ).get()
        return (
            requested.operation == LedgerOperation.APPROVE_REVIEW
            and failure.error_code == "order_cancelled"
            and self.order.status == OrderStatus.CANCELLED
        )

    def drain_and_check_settled(self):
        """Let the worker finish everything (no more outages), then check the outcome."""
        for _round in range(DRAIN_ROUNDS):
            _make_all_due()
            run_tasks()
            if not DBTaskResult.objects.filter(status="READY").exists():
                break
        assert not DBTaskResult.objects.filter(status="READY").exists(), "the queue never empties"
        self.the_worker_never_crashes()
        self.money_adds_up()
        self.one_email_per_success()

        order = self.order
        payment = self.payment
        events = _events_by_key(payment)
        for requested in _requests(payment):
            outcome = events[requested.idempotency_key] & TERMINAL
            if outcome == {LedgerEvent.FAILED} and self.moot(requested):
                continue
            assert outcome == {LedgerEvent.SUCCEEDED}, (
                f"{requested} ended {outcome or 'without an outcome'}: "
                + _history(payment, requested.idempotency_key)
            )
        # Every parcel charged exactly once, for its value.
        shipments = list(order.shipments.all())
        for shipment in shipments:
            [capture] = PaymentLedgerEntry.objects.filter(
                shipment=shipment, operation=LedgerOperation.CAPTURE, event=LedgerEvent.SUCCEEDED
            )
            assert capture.amount == shipment.amount
        assert payment.captured_amount == sum(s.amount for s in shipments)
        assert not payment.needs_attention, payment.failure_message
        charge = SandboxCharge.objects.get(pk=payment.provider_reference)
        if order.status in (OrderStatus.SHIPPED, OrderStatus.CANCELLED):
            # Nothing is left to ship: nothing may be left held on the card.
            assert payment.status not in VOIDABLE_STATUSES, payment.status
            assert charge.status != SandboxCharge.Status.AUTHORIZED, charge.status
            assert payment.captured_amount == order.amount_due
        else:
            assert payment.status in VOIDABLE_STATUSES
            assert charge.status == SandboxCharge.Status.AUTHORIZED
        if order.status == OrderStatus.CANCELLED:
            assert (payment.status, payment.captured_amount) == (PaymentStatus.VOIDED, 0)
        # Every e-mail left, once.
        assert not CustomerEmail.objects.filter(sent_at__isnull=True).exists()
        assert len(mail.outbox) == CustomerEmail.objects.count()


SHRINKING_SECONDS = 60
SETTINGS = hypothesis_settings(
    max_examples=100,
    stateful_step_count=12,
    deadline=None,
    database=None,  # no example database written in the repository
    derandomize=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def _hypothesis_storage_outside_the_repository(tmp_path):
    """Hypothesis caches the constants it reads from source files in ``.hypothesis/``."""
    from hypothesis import configuration

    previous = vars(configuration).get("__hypothesis_home_directory")
    configuration.set_hypothesis_home_dir(tmp_path / "hypothesis")
    yield
    configuration.set_hypothesis_home_dir(previous)


@pytest.mark.django_db
@pytest.mark.usefixtures("_hypothesis_storage_outside_the_repository")
def test_money_stays_consistent_whatever_staff_and_the_worker_do():
    EXPLORED.clear()
    # Shrinking a failing example re-runs it a thousand times or more; hypothesis
    # stops after 300 s, as pytest-timeout does, which would hide the report.
    with mock.patch.object(engine, "MAX_SHRINKING_SECONDS", SHRINKING_SECONDS):
        run_state_machine_as_test(PaymentLifecycle, settings=SETTINGS)
    print("\nExplored:", *(f"{n:5d} × {label}" for label, n in sorted(EXPLORED.items())), sep="\n")
