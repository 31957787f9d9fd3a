"""State changes of payments: one function per business verb.

Every money move follows the same steps: under a row lock on the payment,
check the transition and write an ``attempted`` ledger entry with the
idempotency key derived from the business operation; release the lock and
call the provider; then, under the lock again, write the outcome and update
the amounts. A retry sends the same key, so the provider moves money at
most once, and the ledger accepts at most one success per key.
"""

import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Order, OrderStatus
from orders.services import order_confirm, order_fail_payment, order_hold_for_review
from payments.emails import (
    customer_email_queue,
    customer_email_requeue_unsent,
    staff_email_expiring_authorizations,
)
from payments.exceptions import (
    InvalidPaymentTransition,
    PaymentDeclined,
    PaymentError,
    ProviderUnavailable,
)
from payments.methods import METHODS, is_paid_at_order
from payments.models import (
    CAPTURABLE_STATUSES,
    REFUNDABLE_STATUSES,
    TERMINAL_EVENTS,
    VOIDABLE_STATUSES,
    CustomerEmail,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentLedgerEntry,
    PaymentStatus,
    ProviderEvent,
)
from payments.providers import get_provider
from payments.providers.base import (
    ApproveReviewRequest,
    AuthorizeRequest,
    CaptureRequest,
    CardDetails,
    CardSessionRequest,
    CardSessionResult,
    CompletedCardSession,
    PaymentState,
    RefundRequest,
    VoidRequest,
)
from shop.money import format_money

logger = logging.getLogger(__name__)


def payment_qs_select_for_update():
    """Payments locked in primary-key order, so two transactions never deadlock."""
    return Payment.objects.select_for_update().order_by("pk")


def _lock_payment(payment_id: int) -> Payment:
    return payment_qs_select_for_update().get(pk=payment_id)


# What the worker-run operations may change on a payment.
_MUTABLE_FIELDS = [
    "status",
    "captured_amount",
    "refunded_amount",
    "needs_attention",
    "failure_code",
    "failure_message",
    "updated_at",
]


def _save(payment: Payment) -> None:
    payment.save(update_fields=_MUTABLE_FIELDS)


def _move(payment: Payment, status: str) -> None:
    if not payment.can_transition_to(status):
        raise InvalidPaymentTransition(
            f"Payment {payment.pk} is {payment.status} and cannot become {status}."
        )
    payment.status = status


def _settle_status(payment: Payment, status: str) -> None:
    """Move to ``status`` after the provider moved money; never raise at that point.

    The money is recorded whatever the status; an unexpected status (changed
    meanwhile) is flagged for staff rather than losing the record.
    """
    if payment.status == status:
        return
    if payment.can_transition_to(status):
        payment.status = status
    else:
        _flag(
            payment,
            "unexpected_status",
            f"The provider moved money while the payment was {payment.status}; "
            f"expected to become {status}. Check the ledger.",
        )


def _ledger(
    payment: Payment,
    *,
    operation: str,
    event: str,
    amount: int,
    idempotency_key: str,
    shipment_id: int | None = None,
    provider_reference: str = "",
    error_code: str = "",
    message: str = "",
) -> PaymentLedgerEntry:
    return PaymentLedgerEntry.objects.create(
        payment=payment,
        order_id=payment.order_id,
        shipment_id=shipment_id,
        operation=operation,
        event=event,
        amount=amount,
        currency=payment.currency,
        idempotency_key=idempotency_key,
        provider_reference=provider_reference,
        error_code=error_code,
        message=message,
    )


# Card form ----------------------------------------------------------------


def payment_card_session_start(
    *,
    amount: int,
    currency: str,
    return_url: str,
    cancel_url: str,
    language: str,
    method: str = "card",
) -> CardSessionResult:
    """Open the provider's hosted card form (or wallet sheet) for the shopper."""
    return get_provider().create_card_session(
        CardSessionRequest(
            amount=amount,
            currency=currency,
            return_url=return_url,
            cancel_url=cancel_url,
            language=language,
            method=method,
        )
    )


def payment_card_session_read(*, session_id: str) -> CompletedCardSession | None:
    """The card the shopper entered, read from the provider (never from the browser)."""
    if not re.fullmatch(r"[A-Za-z0-9_]{1,100}", session_id):
        return None  # not an id any provider issues (NUL bytes, spaces, ...)
    return get_provider().retrieve_card_session(session_id)


# Authorization --------------------------------------------------------------


def payment_outstanding_amount(*, order_id: int) -> int:
    """What the order still needs authorized: its amount due less what was captured."""
    order = Order.objects.get(pk=order_id)
    captured = sum(p.captured_amount for p in Payment.objects.filter(order_id=order_id))
    return max(order.amount_due - captured, 0)


def payment_create_for_order(
    *, order_id: int, payment_token: str, card: CardDetails, method: str = "card"
) -> Payment:
    """The payment that will authorize what the order needs, one pending at a time.

    At checkout that is the order total. After an authorization expired it is
    what is left to capture (``payment_outstanding_amount``): the new
    authorization replaces the old one and shipping proceeds.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        existing = order.payments.filter(status=PaymentStatus.PENDING).first()
        if existing is not None:
            return existing
        if order.status == OrderStatus.PENDING_PAYMENT:
            amount = order.total_amount
        elif order.status in (OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED):
            if order.payments.filter(status__in=VOIDABLE_STATUSES).exists():
                raise InvalidPaymentTransition(_("this order's payment is already authorized"))
            amount = payment_outstanding_amount(order_id=order.pk)
        else:
            amount = 0
        if amount <= 0:
            raise InvalidPaymentTransition(_("this order needs no payment"))
        return Payment.objects.create(
            order=order,
            provider=settings.PAYMENTS_PROVIDER,
            method=method,
            payment_token=payment_token,
            currency=order.currency,
            amount=amount,
            card_brand=card.brand,
            card_last4=card.last4,
            card_exp_month=card.exp_month,
            card_exp_year=card.exp_year,
        )


def payment_authorize(*, payment_id: int, return_url: str = "") -> Payment:
    """Ask the provider to hold the payment's amount; confirm the order or fail it.

    Runs in the shopper's request (they wait for the answer). Idempotent:
    the key is derived from the payment, so a repeated call replays the
    provider's first answer. When the card asks for 3-D Secure the payment
    stays pending with ``action_url`` set: the shopper authenticates there,
    comes back to ``return_url``, and ``payment_complete_authentication``
    finishes. At checkout a decline marks the order declined and releases
    its stock; either way ``PaymentDeclined`` is raised for the view to
    explain. A new authorization for an order whose hold expired takes over
    the captures the expired one could not make.
    """
    key = f"authorize-payment-{payment_id}"
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        if payment.status != PaymentStatus.PENDING or payment.action_url:
            return payment
        if return_url and not payment.return_url:
            payment.return_url = return_url
            payment.save(update_fields=["return_url"])
        # Every retry sends the same parameters (a provider refuses a key reused otherwise).
        return_url = payment.return_url
        _ledger(
            payment,
            operation=LedgerOperation.AUTHORIZE,
            event=LedgerEvent.ATTEMPTED,
            amount=payment.amount,
            idempotency_key=key,
        )
        order_number = payment.order.number
    request = AuthorizeRequest(
        amount=payment.amount,
        currency=payment.currency,
        payment_token=payment.payment_token,
        order_reference=order_number,
        idempotency_key=key,
        method=payment.method,
        return_url=return_url,
    )
    provider = get_provider(payment.provider)
    try:
        try:
            result = provider.authorize(request)
        except ProviderUnavailable:
            result = provider.authorize(request)  # same key: safe to ask once more
    except ProviderUnavailable:
        # The outcome is unknown: the payment stays pending. Asking again with the
        # same key (the shopper's retry, or the payments check) learns the answer.
        raise
    except PaymentError as error:
        _authorization_failed(payment_id, key, error)
        raise

    if result.action_url:
        with transaction.atomic():
            payment = _lock_payment(payment_id)
            if payment.status == PaymentStatus.PENDING and not payment.action_url:
                _ledger(
                    payment,
                    operation=LedgerOperation.AUTHORIZE,
                    event=LedgerEvent.ATTEMPTED,
                    amount=payment.amount,
                    idempotency_key=key,
                    provider_reference=result.provider_reference,
                    message="3-D Secure authentication asked of the shopper",
                )
                payment.provider_reference = result.provider_reference
                payment.action_url = result.action_url
                payment.save(update_fields=["provider_reference", "action_url"])
        return payment
    return _authorization_succeeded(payment_id, key, result)


def payment_complete_authentication(*, payment_id: int) -> Payment:
    """Finish an authorization after the shopper's 3-D Secure challenge.

    The outcome is read from the provider, never from the return URL.
    A challenge failed or left unfinished fails the payment as a decline
    does (``PaymentDeclined`` is raised).
    """
    key = f"authorize-payment-{payment_id}"
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        if payment.status != PaymentStatus.PENDING or not payment.action_url:
            return payment
    try:
        result = get_provider(payment.provider).retrieve_authorization(payment.provider_reference)
    except ProviderUnavailable:
        raise  # unknown: still pending, asked again later
    except PaymentDeclined as error:
        _authorization_failed(payment_id, key, error)
        raise
    except PaymentError as error:
        # The provider would not say (a configuration error, say): the outcome is
        # unknown, so the payment stays pending rather than failing a hold that exists.
        raise ProviderUnavailable(f"Outcome unknown: {error}") from error
    if result.action_url:
        # The provider still waits for the shopper: the shop gives up, and has the
        # authorization cancelled there, so finishing it later holds nothing.
        abandoned = PaymentDeclined(
            "The shopper did not finish authenticating.", code="authentication_abandoned"
        )
        _authorization_failed(payment_id, key, abandoned, cancel_at_provider=True)
        raise abandoned
    return _authorization_succeeded(payment_id, key, result)


def _authorization_failed(
    payment_id: int, key: str, error: PaymentError, *, cancel_at_provider: bool = False
) -> None:
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        if payment.status != PaymentStatus.PENDING:
            return
        _ledger(
            payment,
            operation=LedgerOperation.AUTHORIZE,
            event=LedgerEvent.FAILED,
            amount=payment.amount,
            idempotency_key=key,
            error_code=error.code,
            message=str(error),
        )
        _move(payment, PaymentStatus.FAILED)
        payment.failure_code = error.code
        payment.failure_message = str(error)
        payment.save(update_fields=["status", "failure_code", "failure_message"])
        if Order.objects.get(pk=payment.order_id).status == OrderStatus.PENDING_PAYMENT:
            order_fail_payment(order_id=payment.order_id)
        if cancel_at_provider:
            # In the worker, recorded like any void; the payment stays failed.
            _request(
                payment,
                operation=LedgerOperation.VOID,
                key=f"void-abandoned-payment-{payment.pk}",
                amount=0,
                message="the shopper never finished authenticating",
            )


def _authorization_succeeded(payment_id: int, key: str, result) -> Payment:
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        if payment.status != PaymentStatus.PENDING:
            return payment
        _ledger(
            payment,
            operation=LedgerOperation.AUTHORIZE,
            event=LedgerEvent.SUCCEEDED,
            amount=result.authorized_amount,
            idempotency_key=key,
            provider_reference=result.provider_reference,
        )
        if result.captured_amount:  # paid at the order (Alipay): nothing to capture later
            status = PaymentStatus.CAPTURED
            _ledger(
                payment,
                operation=LedgerOperation.CAPTURE,
                event=LedgerEvent.SUCCEEDED,
                amount=result.captured_amount,
                idempotency_key=f"capture-at-order-payment-{payment.pk}",
                provider_reference=result.provider_reference,
                message="taken at the order: the method has no separate capture",
            )
        else:
            status = PaymentStatus.IN_REVIEW if result.in_review else PaymentStatus.AUTHORIZED
        _move(payment, status)
        payment.provider_reference = result.provider_reference
        payment.authorized_amount = result.authorized_amount
        payment.captured_amount = result.captured_amount
        payment.authorized_at = timezone.now()
        payment.authorization_expires_at = result.expires_at
        payment.save(
            update_fields=[
                "status",
                "provider_reference",
                "authorized_amount",
                "captured_amount",
                "authorized_at",
                "authorization_expires_at",
            ]
        )
        order = Order.objects.get(pk=payment.order_id)
        if order.status == OrderStatus.PENDING_PAYMENT and result.in_review:
            order_hold_for_review(order_id=order.pk)
            customer_email_queue(
                key=f"in-review-payment-{payment.pk}",
                kind=CustomerEmail.Kind.IN_REVIEW,
                order_id=order.pk,
                amount=payment.authorized_amount,
            )
        elif order.status == OrderStatus.PENDING_PAYMENT:
            order_confirm(order_id=order.pk)
        else:
            # A replacement: the expired holds are settled by this one.
            Payment.objects.filter(order_id=order.pk, status=PaymentStatus.EXPIRED).update(
                needs_attention=False
            )
    if order.status != OrderStatus.PENDING_PAYMENT:
        payment_retry_failed_captures(order_id=order.pk)
    return payment


# Worker-run operations ------------------------------------------------------
#
# Capture, void, refund and review approval share one engine: ``_execute``. The request is
# written to the ledger (``requested``) in the transaction of the business
# change that calls for it, with its task; the worker then runs it, as many
# times as needed, with the same idempotency key.


class OperationOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    ALREADY_DONE = "already_done"
    RETRY_SCHEDULED = "retry_scheduled"
    DEFERRED = "deferred"
    FAILED = "failed"


# Failures after which nobody knows whether the provider moved the money.
UNKNOWN_OUTCOMES = frozenset({"provider_unavailable"})


@dataclass(frozen=True)
class _Refusal:
    """Why an operation cannot run now: ``defer`` waits, otherwise it fails for good."""

    code: str
    message: str
    defer: bool = False
    # Nothing went wrong (the request became moot): recorded, not flagged.
    quiet: bool = False


def capture_key_for_shipment(shipment_id: int, payment_id: int) -> str:
    """The capture of one parcel on one authorization."""
    return f"capture-shipment-{shipment_id}-payment-{payment_id}"


def _key_entries(payment: Payment, key: str) -> dict[str, PaymentLedgerEntry]:
    """The latest entry of each event for a key."""
    entries: dict[str, PaymentLedgerEntry] = {}
    for entry in payment.ledger.filter(idempotency_key=key).order_by("pk"):
        entries[entry.event] = entry
    return entries


def _pending(payment: Payment, operation: str) -> list[PaymentLedgerEntry]:
    """Requests of ``operation`` on this payment that have no final outcome yet."""
    keys_done = set(
        payment.ledger.filter(operation=operation, event__in=TERMINAL_EVENTS).values_list(
            "idempotency_key", flat=True
        )
    )
    return [
        entry
        for entry in payment.ledger.filter(operation=operation, event=LedgerEvent.REQUESTED)
        if entry.idempotency_key not in keys_done
    ]


def _pending_amount(payment: Payment, operation: str) -> int:
    return sum(entry.amount for entry in _pending(payment, operation))


def _flag(payment: Payment, code: str, message: str) -> None:
    payment.needs_attention = True
    payment.failure_code = code
    payment.failure_message = message
    logger.error("Payment %s needs attention: %s", payment.pk, message)


MAX_RETRY_DELAY = timedelta(hours=1)


def _retry_delay(attempt: int) -> timedelta:
    """Exponential backoff from ``PAYMENTS_CAPTURE_RETRY_BASE_SECONDS``, at most an hour."""
    seconds = settings.PAYMENTS_CAPTURE_RETRY_BASE_SECONDS * 2 ** min(attempt - 1, 16)
    return min(timedelta(seconds=seconds), MAX_RETRY_DELAY)


def _execute(
    *,
    payment_id: int,
    key: str,
    operation: str,
    attempt: int,
    check: Callable[[Payment, PaymentLedgerEntry], _Refusal | None],
    call: Callable[[Payment, PaymentLedgerEntry], Any],
    apply: Callable[[Payment, PaymentLedgerEntry, Any], int],
    on_refused: Callable[[Payment, PaymentError], None] | None = None,
    lock_order: bool = False,
) -> OperationOutcome:
    """Run one requested operation: attempt, provider call without lock, outcome.

    ``check`` refuses or defers under the lock before anything is sent;
    ``call`` talks to the provider; ``apply`` records a success on the
    payment (it returns the amount that moved, for the ledger). With
    ``lock_order``, the order row is locked before the payment's when the
    outcome is written, the order the order-side services use (no deadlock).
    """
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        entries = _key_entries(payment, key)
        if LedgerEvent.SUCCEEDED in entries:
            return OperationOutcome.ALREADY_DONE
        requested = entries.get(LedgerEvent.REQUESTED)
        if requested is None:
            raise PaymentError(f"No {operation} was requested under {key!r}.")
        failed = entries.get(LedgerEvent.FAILED)
        retry = entries.get(LedgerEvent.RETRY_SCHEDULED)
        if failed is not None and (retry is None or retry.pk < failed.pk):
            # Failed for good: a copy of the task, or a retry scheduled before the
            # failure, does nothing; only a retry asked for since (staff's) goes on.
            return OperationOutcome.FAILED
        refusal = check(payment, requested)
        if refusal is not None and refusal.defer:
            _schedule_retry(
                payment, requested, attempt, refusal.code, refusal.message, deferred=True
            )
            return OperationOutcome.DEFERRED
        if refusal is not None:
            _ledger_failure(
                payment, requested, refusal.code, refusal.message, flag=not refusal.quiet
            )
            _save(payment)
            return OperationOutcome.FAILED
        _ledger(
            payment,
            operation=operation,
            event=LedgerEvent.ATTEMPTED,
            amount=requested.amount,
            idempotency_key=key,
            shipment_id=requested.shipment_id,
            message=f"attempt {attempt}",
        )

    try:
        result = call(payment, requested)
    except ProviderUnavailable as error:
        with transaction.atomic():
            payment = _lock_payment(payment_id)
            if attempt >= settings.PAYMENTS_CAPTURE_MAX_ATTEMPTS:
                _ledger_failure(
                    payment,
                    requested,
                    error.code,
                    f"Provider unavailable after {attempt} attempts: {error}",
                )
                _save(payment)
                return OperationOutcome.FAILED
            _schedule_retry(payment, requested, attempt, error.code, str(error))
        return OperationOutcome.RETRY_SCHEDULED
    except PaymentError as error:
        with transaction.atomic():
            payment = _lock_payment(payment_id)
            if LedgerEvent.SUCCEEDED in _key_entries(payment, key):
                return OperationOutcome.ALREADY_DONE
            _ledger_failure(payment, requested, error.code, str(error))
            if on_refused is not None:
                on_refused(payment, error)
            _save(payment)
        return OperationOutcome.FAILED

    with transaction.atomic():
        if lock_order:
            Order.objects.select_for_update().get(pk=payment.order_id)
        payment = _lock_payment(payment_id)
        if LedgerEvent.SUCCEEDED in _key_entries(payment, key):
            return OperationOutcome.ALREADY_DONE
        moved = apply(payment, requested, result)
        _ledger(
            payment,
            operation=operation,
            event=LedgerEvent.SUCCEEDED,
            amount=moved,
            idempotency_key=key,
            shipment_id=requested.shipment_id,
            provider_reference=result.provider_reference,
        )
        if payment.failure_code and not _has_open_failures(payment):
            payment.needs_attention = False
            payment.failure_code = ""
            payment.failure_message = ""
        _save(payment)
    return OperationOutcome.SUCCEEDED


def _has_open_failures(payment: Payment) -> bool:
    """Whether a request on this payment failed and nothing has made up for it since.

    A failure is made up for by a success under its key, or, for a parcel's
    capture, by a success of any later request for the same parcel.
    """
    succeeded = payment.ledger.filter(event=LedgerEvent.SUCCEEDED)
    done_keys = set(succeeded.values_list("idempotency_key", flat=True))
    done_parcels = set(
        succeeded.filter(operation=LedgerOperation.CAPTURE).values_list("shipment_id", flat=True)
    )
    for failure in payment.ledger.filter(event=LedgerEvent.FAILED):
        if failure.idempotency_key in done_keys:
            continue
        if failure.shipment_id and failure.shipment_id in done_parcels:
            continue
        return True
    return False


def _ledger_failure(
    payment: Payment,
    requested: PaymentLedgerEntry,
    code: str,
    message: str,
    *,
    flag: bool = True,
) -> None:
    _ledger(
        payment,
        operation=requested.operation,
        event=LedgerEvent.FAILED,
        amount=requested.amount,
        idempotency_key=requested.idempotency_key,
        shipment_id=requested.shipment_id,
        error_code=code,
        message=message,
    )
    if flag:
        _flag(payment, code, message)


def _schedule_retry(
    payment: Payment,
    requested: PaymentLedgerEntry,
    attempt: int,
    code: str,
    message: str,
    *,
    deferred: bool = False,
) -> None:
    """Run the operation again later: after a provider outage (one attempt used, backoff
    growing) or because it must wait for others (``deferred``: no attempt used)."""
    delay = _retry_delay(1 if deferred else attempt)
    next_attempt = attempt if deferred else attempt + 1
    _ledger(
        payment,
        operation=requested.operation,
        event=LedgerEvent.RETRY_SCHEDULED,
        amount=requested.amount,
        idempotency_key=requested.idempotency_key,
        shipment_id=requested.shipment_id,
        error_code=code,
        message=f"attempt {attempt}: {message}; next in {int(delay.total_seconds())} s",
    )
    _enqueue(
        requested.operation,
        payment.pk,
        requested.idempotency_key,
        attempt=next_attempt,
        run_after=timezone.now() + delay,
    )


def _enqueue(operation: str, payment_id: int, key: str, *, attempt: int = 1, run_after=None):
    from payments import tasks

    task = {
        LedgerOperation.CAPTURE: tasks.capture_payment,
        LedgerOperation.VOID: tasks.void_payment,
        LedgerOperation.REFUND: tasks.refund_payment,
        LedgerOperation.APPROVE_REVIEW: tasks.approve_payment_review,
    }[operation]
    if run_after is not None:
        task = task.using(run_after=run_after)
    task.enqueue(payment_id=payment_id, idempotency_key=key, attempt=attempt)


def _request(
    payment: Payment,
    *,
    operation: str,
    key: str,
    amount: int,
    shipment_id: int | None = None,
    message: str = "",
) -> bool:
    """Record a request and enqueue its task, once per key; returns whether it was new."""
    if payment.ledger.filter(idempotency_key=key, event=LedgerEvent.REQUESTED).exists():
        return False
    _ledger(
        payment,
        operation=operation,
        event=LedgerEvent.REQUESTED,
        amount=amount,
        idempotency_key=key,
        shipment_id=shipment_id,
        message=message,
    )
    _enqueue(operation, payment.pk, key)
    return True


# Capture ----------------------------------------------------------------------


def payment_request_capture(*, order_id: int, shipment_id: int, amount: int, currency: str) -> str:
    """Record that a parcel must be charged and enqueue its capture.

    Called inside the shipment's transaction (by the ``order_shipped``
    receiver): the request and its task commit with the shipment or not at
    all. Raises ``InvalidPaymentTransition`` when the authorization cannot
    cover it, which rolls the shipment back. Idempotent per shipment.
    Returns what happened, in a sentence for staff.
    """
    with transaction.atomic():
        paid = (
            payment_qs_select_for_update()
            .filter(order_id=order_id, captured_amount__gt=0)
            .filter(method__in=[m for m in METHODS if is_paid_at_order(m)])
            .first()
        )
        if paid is not None:
            # Paid at the order: nothing to capture; the customer hears the parcel left.
            customer_email_queue(
                key=f"shipped-paid-shipment-{shipment_id}",
                kind=CustomerEmail.Kind.SHIPPED_PAID,
                order_id=order_id,
                amount=amount,
            )
            return _(
                "It was already paid with %(method)s at the order: nothing to capture; "
                "the customer is told the parcel left."
            ) % {"method": paid.get_method_display()}
        payment = (
            payment_qs_select_for_update()
            .filter(order_id=order_id, status__in=CAPTURABLE_STATUSES)
            .first()
        )
        if payment is None:
            latest = Payment.objects.filter(order_id=order_id).first()
            if latest is not None and latest.status == PaymentStatus.IN_REVIEW:
                raise InvalidPaymentTransition(_("the payment is still in fraud review"))
            if latest is not None and latest.status == PaymentStatus.EXPIRED:
                raise InvalidPaymentTransition(
                    _("the authorization expired; the customer was asked to authorize again")
                )
            raise InvalidPaymentTransition(_("there is no authorized payment to capture"))
        key = capture_key_for_shipment(shipment_id, payment.pk)
        queued = _(
            "The capture of %(amount)s is queued; the customer is e-mailed once it is debited."
        ) % {"amount": format_money(amount, currency)}
        if payment.ledger.filter(idempotency_key=key).exists():
            return queued  # this parcel's capture is already requested
        available = payment.capturable_amount - _pending_amount(payment, LedgerOperation.CAPTURE)
        if currency != payment.currency or amount > available:
            raise InvalidPaymentTransition(
                _("%(amount)s asked, only %(available)s left on the authorization")
                % {
                    "amount": format_money(amount, currency),
                    "available": format_money(available, payment.currency),
                }
            )
        _request(
            payment,
            operation=LedgerOperation.CAPTURE,
            key=key,
            amount=amount,
            shipment_id=shipment_id,
        )
    return queued


def payment_capture(*, payment_id: int, idempotency_key: str, attempt: int = 1) -> OperationOutcome:
    """Capture what a capture request asks for; safe to run any number of times.

    The last parcel's capture is final: the provider releases what is left
    of the authorization. A success updates the amounts and queues the debit
    e-mail in the same transaction, so the e-mail is queued exactly once. An
    expired authorization marks the payment expired and asks the customer
    to authorize again.
    """
    final = False

    def check(payment: Payment, requested: PaymentLedgerEntry) -> _Refusal | None:
        nonlocal final
        # Decided by the parcel alone, so every attempt sends the same parameters.
        final = requested.shipment is not None and requested.shipment.is_final
        if payment.ledger.filter(
            idempotency_key=requested.idempotency_key, event=LedgerEvent.ATTEMPTED
        ).exists():
            # Sent before, outcome unknown: only the provider knows, and it replays
            # its first answer for this key. Never refuse locally here.
            return None
        if (
            payment.status not in CAPTURABLE_STATUSES
            or requested.amount > payment.capturable_amount
        ):
            return _Refusal(
                "not_capturable",
                f"Nothing left to capture: payment is {payment.get_status_display()}, "
                f"{payment.capturable_amount} left, {requested.amount} asked.",
            )
        others = [e for e in _pending(payment, LedgerOperation.CAPTURE) if e.pk != requested.pk]
        if final and others:
            # A final capture closes the authorization: earlier parcels go first.
            return _Refusal(
                "captures_pending", "Waiting for earlier parcels' captures.", defer=True
            )
        return None

    def call(payment: Payment, requested: PaymentLedgerEntry):
        return get_provider(payment.provider).capture(
            CaptureRequest(
                provider_reference=payment.provider_reference,
                amount=requested.amount,
                currency=payment.currency,
                idempotency_key=requested.idempotency_key,
                final=final,
            )
        )

    def apply(payment: Payment, requested: PaymentLedgerEntry, result) -> int:
        # Money the provider moved is always recorded, whatever happened meanwhile.
        payment.captured_amount += result.captured_amount
        fully = final or payment.captured_amount == payment.authorized_amount
        if payment.status != PaymentStatus.CAPTURED:
            _settle_status(
                payment, PaymentStatus.CAPTURED if fully else PaymentStatus.PARTIALLY_CAPTURED
            )
        _queue_email_after(payment, CustomerEmail.Kind.CAPTURED, requested, result.captured_amount)
        return result.captured_amount

    return _execute(
        payment_id=payment_id,
        key=idempotency_key,
        operation=LedgerOperation.CAPTURE,
        attempt=attempt,
        check=check,
        call=call,
        apply=apply,
        on_refused=_expire_if_provider_says_so,
    )


def _expire_if_provider_says_so(payment: Payment, error: PaymentError) -> None:
    """The provider says the hold lapsed: expire it, unless other captures are still open.

    An open capture may have gone through before the lapse; until its own answer
    is known the payment stays as it is (flagged), so nothing is asked twice.
    """
    if error.code != "authorization_expired" or not payment.can_transition_to(
        PaymentStatus.EXPIRED
    ):
        return
    if _pending(payment, LedgerOperation.CAPTURE):
        return
    _expire(payment)


def _queue_email_after(payment: Payment, kind: str, requested: PaymentLedgerEntry, amount: int):
    """Queue the customer e-mail for a success, in the transaction that records it.

    The e-mail is keyed by the request (one per operation) and carries the
    amount that moved.
    """
    customer_email_queue(
        key=f"{kind}-{requested.idempotency_key}",
        kind=kind,
        order_id=payment.order_id,
        ledger_entry=requested,
        amount=amount,
    )


def payment_retry_failed_captures(*, order_id: int) -> int:
    """Staff's retry of captures that failed for good; returns how many were requeued.

    A capture whose outcome is unknown (the provider never answered) is
    retried with the same key, so a capture whose answer was lost is found,
    not repeated. A capture the provider refused is asked again under a new
    key (no money moved under the old one, and the provider would replay its
    refusal): on the same authorization while it can still be captured,
    otherwise on the order's current one.
    """
    requeued = 0
    with transaction.atomic():
        payments = list(payment_qs_select_for_update().filter(order_id=order_id))
        current = next((p for p in payments if p.status in CAPTURABLE_STATUSES), None)
        for payment in payments:
            for requested in _failed_requests(payment, LedgerOperation.CAPTURE):
                failure = payment.ledger.filter(
                    idempotency_key=requested.idempotency_key, event=LedgerEvent.FAILED
                ).last()
                if failure.error_code in UNKNOWN_OUTCOMES:
                    # The provider may have done it: ask again with the same key.
                    _ledger(
                        payment,
                        operation=LedgerOperation.CAPTURE,
                        event=LedgerEvent.RETRY_SCHEDULED,
                        amount=requested.amount,
                        idempotency_key=requested.idempotency_key,
                        shipment_id=requested.shipment_id,
                        message="retry asked by staff: same key, the outcome was unknown",
                    )
                    _enqueue(LedgerOperation.CAPTURE, payment.pk, requested.idempotency_key)
                    requeued += 1
                    continue
                # The provider answered no (or was never asked): no money moved under
                # that key, and it would replay its refusal; ask under a new key.
                target = payment if payment.status in CAPTURABLE_STATUSES else current
                if target is None:
                    continue
                key = (
                    capture_key_for_shipment(requested.shipment_id, target.pk)
                    if target.pk != payment.pk and requested.shipment_id
                    else f"{requested.idempotency_key}-retry-{failure.pk}"
                )
                if _request(
                    target,
                    operation=LedgerOperation.CAPTURE,
                    key=key,
                    amount=requested.amount,
                    shipment_id=requested.shipment_id,
                    message=f"retry of {requested.idempotency_key}",
                ):
                    requeued += 1
    return requeued


def _failed_requests(payment: Payment, operation: str) -> list[PaymentLedgerEntry]:
    events: dict[str, set[str]] = {}
    requests: dict[str, PaymentLedgerEntry] = {}
    for entry in payment.ledger.filter(operation=operation).order_by("pk"):
        events.setdefault(entry.idempotency_key, set()).add(entry.event)
        if entry.event == LedgerEvent.REQUESTED:
            requests[entry.idempotency_key] = entry
    return [
        requests[key]
        for key, seen in events.items()
        if key in requests and LedgerEvent.FAILED in seen and LedgerEvent.SUCCEEDED not in seen
    ]


# Void -------------------------------------------------------------------------


def payment_request_release(*, order_id: int) -> None:
    """Record that what is left of the order's hold must be released, and enqueue it.

    Called in the cancellation's transaction (``order_cancelled``). Captures
    already requested for shipped parcels go first: the void waits for them.
    Nothing is requested when no authorization is left to release.
    """
    with transaction.atomic():
        paid = (
            payment_qs_select_for_update()
            .filter(order_id=order_id, status__in=REFUNDABLE_STATUSES)
            .filter(method__in=[m for m in METHODS if is_paid_at_order(m)])
            .first()
        )
        if paid is not None:
            # Paid at the order (Alipay): cancelling refunds what will not ship.
            owed = Order.objects.get(pk=order_id).amount_due
            surplus = paid.refundable_amount - _pending_amount(paid, LedgerOperation.REFUND) - owed
            if surplus > 0:
                _request(
                    paid,
                    operation=LedgerOperation.REFUND,
                    key=f"refund-cancellation-order-{order_id}",
                    amount=surplus,
                )
            return
        payment = (
            payment_qs_select_for_update()
            .filter(order_id=order_id, status__in=VOIDABLE_STATUSES)
            .first()
        )
        if payment is None:
            return
        _request(
            payment,
            operation=LedgerOperation.VOID,
            key=f"void-payment-{payment.pk}",
            amount=payment.capturable_amount if payment.status in CAPTURABLE_STATUSES else 0,
        )


def payment_void(*, payment_id: int, idempotency_key: str, attempt: int = 1) -> OperationOutcome:
    """Release what is left of an authorization; tells the customer once released."""

    def check(payment: Payment, requested: PaymentLedgerEntry) -> _Refusal | None:
        # A failed payment is voided only to cancel an abandoned authentication.
        if payment.status not in VOIDABLE_STATUSES and payment.status != PaymentStatus.FAILED:
            return _Refusal(
                "not_voidable", f"Nothing to release: payment is {payment.get_status_display()}."
            )
        if _pending(payment, LedgerOperation.CAPTURE):
            return _Refusal("captures_pending", "Waiting for requested captures.", defer=True)
        return None

    def call(payment: Payment, requested: PaymentLedgerEntry):
        return get_provider(payment.provider).void(
            VoidRequest(
                provider_reference=payment.provider_reference,
                idempotency_key=requested.idempotency_key,
            )
        )

    def apply(payment: Payment, requested: PaymentLedgerEntry, result) -> int:
        if payment.status == PaymentStatus.FAILED:
            return result.released_amount  # the customer was told at checkout; it stays failed
        _settle_status(
            payment, PaymentStatus.CAPTURED if payment.captured_amount else PaymentStatus.VOIDED
        )
        _queue_email_after(payment, CustomerEmail.Kind.RELEASED, requested, result.released_amount)
        return result.released_amount

    return _execute(
        payment_id=payment_id,
        key=idempotency_key,
        operation=LedgerOperation.VOID,
        attempt=attempt,
        check=check,
        call=call,
        apply=apply,
    )


# Refund -----------------------------------------------------------------------


def payment_request_refund(*, payment_id: int, amount: int, request_token: str) -> None:
    """Record a refund staff asked for and enqueue it; idempotent per ``request_token``.

    Raises ``InvalidPaymentTransition`` (nothing recorded) when the amount is
    not positive or exceeds what was captured less what is refunded or
    being refunded.
    """
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        key = f"refund-{request_token}"
        if payment.ledger.filter(idempotency_key=key).exists():
            return
        available = payment.refundable_amount - _pending_amount(payment, LedgerOperation.REFUND)
        if payment.status not in REFUNDABLE_STATUSES or available <= 0:
            raise InvalidPaymentTransition(_("nothing captured is left to refund"))
        if not 0 < amount <= available:
            raise InvalidPaymentTransition(
                _("a refund must be between %(min)s and %(max)s")
                % {
                    "min": format_money(1, payment.currency),
                    "max": format_money(available, payment.currency),
                }
            )
        _request(payment, operation=LedgerOperation.REFUND, key=key, amount=amount)


def payment_refund(*, payment_id: int, idempotency_key: str, attempt: int = 1) -> OperationOutcome:
    """Give back a requested amount; the customer is e-mailed once it is refunded."""

    def check(payment: Payment, requested: PaymentLedgerEntry) -> _Refusal | None:
        if requested.amount > payment.refundable_amount:
            return _Refusal(
                "amount_too_large",
                f"{requested.amount} asked, {payment.refundable_amount} refundable.",
            )
        return None

    def call(payment: Payment, requested: PaymentLedgerEntry):
        return get_provider(payment.provider).refund(
            RefundRequest(
                provider_reference=payment.provider_reference,
                amount=requested.amount,
                currency=payment.currency,
                idempotency_key=requested.idempotency_key,
            )
        )

    def apply(payment: Payment, requested: PaymentLedgerEntry, result) -> int:
        _apply_refund(payment, requested, result.refunded_amount)
        return result.refunded_amount

    return _execute(
        payment_id=payment_id,
        key=idempotency_key,
        operation=LedgerOperation.REFUND,
        attempt=attempt,
        check=check,
        call=call,
        apply=apply,
    )


def _apply_refund(payment: Payment, requested: PaymentLedgerEntry, amount: int) -> None:
    payment.refunded_amount += amount
    # Only a settled payment shows its refunds in its status; a partly
    # captured or expired one keeps the status that says what is left.
    if payment.status in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
        everything = payment.refunded_amount == payment.captured_amount
        _settle_status(
            payment,
            PaymentStatus.REFUNDED if everything else PaymentStatus.PARTIALLY_REFUNDED,
        )
    _queue_email_after(payment, CustomerEmail.Kind.REFUNDED, requested, amount)


# Fraud review -----------------------------------------------------------------


def payment_request_review_approval(*, order_id: int) -> None:
    """Staff approve a payment held by the fraud check; the worker tells the provider.

    Once the provider confirms, the order is confirmed (shippable) and the
    customer told. Raises ``InvalidPaymentTransition`` when the order's
    payment is not in review. Rejecting is cancelling the order.
    """
    with transaction.atomic():
        payment = (
            payment_qs_select_for_update()
            .filter(order_id=order_id, status=PaymentStatus.IN_REVIEW)
            .first()
        )
        order = Order.objects.get(pk=order_id)
        # In review at checkout (order "being verified"), or a replacement
        # authorization in review for an order already confirmed.
        reviewable = (
            OrderStatus.IN_REVIEW,
            OrderStatus.CONFIRMED,
            OrderStatus.PARTIALLY_SHIPPED,
        )
        if payment is None or order.status not in reviewable:
            raise InvalidPaymentTransition(_("this order's payment is not in fraud review"))
        _request(
            payment,
            operation=LedgerOperation.APPROVE_REVIEW,
            key=f"approve-review-payment-{payment.pk}",
            amount=payment.authorized_amount,
        )


def payment_approve_review(
    *, payment_id: int, idempotency_key: str, attempt: int = 1
) -> OperationOutcome:
    """Close the provider's review as approved; confirm the order and tell the customer."""

    def check(payment: Payment, requested: PaymentLedgerEntry) -> _Refusal | None:
        order_status = Order.objects.get(pk=payment.order_id).status
        if _pending(payment, LedgerOperation.VOID) or order_status == OrderStatus.CANCELLED:
            return _Refusal("order_cancelled", "The order was cancelled meanwhile.", quiet=True)
        if payment.status != PaymentStatus.IN_REVIEW:
            return _Refusal(
                "not_in_review", f"The payment is {payment.get_status_display()}, not in review."
            )
        return None

    def call(payment: Payment, requested: PaymentLedgerEntry):
        return get_provider(payment.provider).approve_review(
            ApproveReviewRequest(
                provider_reference=payment.provider_reference,
                idempotency_key=requested.idempotency_key,
            )
        )

    def apply(payment: Payment, requested: PaymentLedgerEntry, result) -> int:
        _settle_status(payment, PaymentStatus.AUTHORIZED)
        order = Order.objects.get(pk=payment.order_id)
        if order.status == OrderStatus.IN_REVIEW:
            order_confirm(order_id=order.pk)
            _queue_email_after(payment, CustomerEmail.Kind.REVIEW_APPROVED, requested, 0)
        elif order.status in (OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED):
            # A replacement authorization: captures the lapsed hold could not make move here.
            transaction.on_commit(lambda: payment_retry_failed_captures(order_id=order.pk))
        # Cancelled meanwhile: the release of the hold is on its way; nothing to confirm.
        return 0

    return _execute(
        payment_id=payment_id,
        key=idempotency_key,
        operation=LedgerOperation.APPROVE_REVIEW,
        attempt=attempt,
        check=check,
        call=call,
        apply=apply,
        lock_order=True,  # apply confirms the order
    )


# Expiry and recovery ----------------------------------------------------------


def _expire(payment: Payment) -> None:
    """Mark a lapsed authorization expired and ask the customer for a new one.

    A hold that lapses while still in fraud review is only flagged: staff
    decide (cancel the order, or contact the customer).
    """
    in_review = payment.status == PaymentStatus.IN_REVIEW
    left = payment.authorized_amount - payment.captured_amount
    _move(payment, PaymentStatus.EXPIRED)
    _ledger(
        payment,
        operation=LedgerOperation.EXPIRE,
        event=LedgerEvent.SUCCEEDED,
        amount=left,
        idempotency_key=f"expire-payment-{payment.pk}",
    )
    lapsed = f"The authorization lapsed on {payment.authorization_expires_at:%Y-%m-%d %H:%M}"
    _flag(
        payment,
        "authorization_expired",
        f"{lapsed} while in fraud review: cancel the order or contact the customer."
        if in_review
        else f"{lapsed} before everything was captured; the customer was asked to authorize again.",
    )
    if in_review:
        return
    customer_email_queue(
        key=f"reauthorize-payment-{payment.pk}",
        kind=CustomerEmail.Kind.REAUTHORIZE,
        order_id=payment.order_id,
        amount=left,
    )


@dataclass(frozen=True)
class WatchReport:
    expired: list[int]
    warned: list[int]
    requeued: list[str]


def payment_watch_authorizations(*, now: datetime | None = None) -> WatchReport:
    """The periodic check: expire lapsed holds, warn staff of soon-lapsing ones, recover.

    - An authorization past its capture-before date with something left to
      capture is marked expired (never silently): the order shows it, and
      the customer gets a link to authorize again.
    - Staff get one e-mail listing authorizations that lapse within
      ``PAYMENTS_EXPIRY_WARNING_HOURS`` with something left to capture;
      each is listed once.
    - A checkout abandoned at the bank's 3-D Secure page (or cut off during
      the authorization) is settled from the provider's answer, so its
      stock does not stay reserved.
    - A capture, void or refund with no news for
      ``PAYMENTS_STALE_OPERATION_MINUTES`` (its worker died) is enqueued
      again with the same key, which the provider answers idempotently; so
      is a customer e-mail still unsent after that long.
    """
    now = now or timezone.now()
    expired: list[int] = []
    holding = CAPTURABLE_STATUSES | {PaymentStatus.IN_REVIEW}
    lapsing = Payment.objects.filter(
        status__in=holding, authorization_expires_at__lte=now
    ).values_list("pk", flat=True)
    for payment_id in lapsing:
        with transaction.atomic():
            payment = _lock_payment(payment_id)
            if payment.status in holding and payment.authorization_expires_at <= now:
                if _pending(payment, LedgerOperation.CAPTURE) or _pending(
                    payment, LedgerOperation.VOID
                ):
                    continue  # an operation is on its way: its own answer will tell
                _expire(payment)
                _save(payment)
                expired.append(payment.pk)

    # Each step runs whatever happens to the others (an SMTP outage must not
    # stop the recovery of money operations).
    warned: list[int] = []
    requeued: list[str] = []
    try:
        warned = _warn_staff_of_expiring(now)
    except Exception:
        logger.exception("Warning staff of lapsing authorizations failed")
    try:
        requeued = _requeue_stale_operations(now)
    except Exception:
        logger.exception("Re-enqueuing stalled operations failed")
    try:
        _settle_abandoned_authorizations(now)
    except Exception:
        logger.exception("Settling abandoned authorizations failed")
    return WatchReport(expired=expired, warned=warned, requeued=requeued)


def _settle_abandoned_authorizations(now: datetime) -> None:
    """Checkouts left at the bank's 3-D Secure page, or cut off mid-call, get an answer.

    The provider says how it ended (the key replays its first answer); a
    challenge never finished fails the order and releases its stock.
    """
    stale_before = now - timedelta(minutes=settings.PAYMENTS_STALE_OPERATION_MINUTES)
    pending = Payment.objects.filter(status=PaymentStatus.PENDING, created_at__lte=stale_before)
    for payment in pending.only("pk", "action_url"):
        try:
            if payment.action_url:
                payment_complete_authentication(payment_id=payment.pk)
            else:
                payment_authorize(payment_id=payment.pk)
        except PaymentError:
            pass  # recorded on the payment and the ledger; the order is released


def _warn_staff_of_expiring(now: datetime) -> list[int]:
    horizon = now + timedelta(hours=settings.PAYMENTS_EXPIRY_WARNING_HOURS)
    with transaction.atomic():
        payments = list(
            payment_qs_select_for_update()
            .filter(
                status__in=CAPTURABLE_STATUSES | {PaymentStatus.IN_REVIEW},
                authorization_expires_at__gt=now,
                authorization_expires_at__lte=horizon,
                expiry_warning_sent_at__isnull=True,
            )
            .select_related("order")
        )
        payments = [
            p for p in payments if p.capturable_amount > 0 or p.status == PaymentStatus.IN_REVIEW
        ]
        for payment in payments:
            payment.expiry_warning_sent_at = now
            payment.save(update_fields=["expiry_warning_sent_at"])
    if payments:
        try:
            staff_email_expiring_authorizations(payments)
        except Exception:
            Payment.objects.filter(pk__in=[p.pk for p in payments]).update(
                expiry_warning_sent_at=None
            )
            raise
    return [p.pk for p in payments]


def _requeue_stale_operations(now: datetime) -> list[str]:
    stale_before = now - timedelta(minutes=settings.PAYMENTS_STALE_OPERATION_MINUTES)
    requeued = []
    operations = [
        LedgerOperation.CAPTURE,
        LedgerOperation.VOID,
        LedgerOperation.REFUND,
        LedgerOperation.APPROVE_REVIEW,
    ]
    open_requests = (
        PaymentLedgerEntry.objects.filter(operation__in=operations, event=LedgerEvent.REQUESTED)
        .exclude(
            idempotency_key__in=PaymentLedgerEntry.objects.filter(event__in=TERMINAL_EVENTS).values(
                "idempotency_key"
            )
        )
        .order_by("pk")
    )
    for requested in open_requests:
        latest = (
            PaymentLedgerEntry.objects.filter(idempotency_key=requested.idempotency_key)
            .order_by("-pk")
            .first()
        )
        if latest.created_at <= stale_before:
            with transaction.atomic():
                _ledger(
                    Payment.objects.get(pk=requested.payment_id),
                    operation=requested.operation,
                    event=LedgerEvent.RETRY_SCHEDULED,
                    amount=requested.amount,
                    idempotency_key=requested.idempotency_key,
                    shipment_id=requested.shipment_id,
                    message="no news from the worker: enqueued again",
                )
                _enqueue(requested.operation, requested.payment_id, requested.idempotency_key)
            requeued.append(requested.idempotency_key)
    requeued.extend(customer_email_requeue_unsent(older_than=stale_before))
    return requeued


# Provider events (webhooks) ---------------------------------------------------
#
# A webhook is stored once (by its event id) with its processing task, in one
# transaction; the worker then brings the payment in line with the provider's
# *current* state, read afresh, so duplicates and any order of arrival are
# harmless. Each handler returns what it did, kept on the event for staff.

EVENT_MAX_ATTEMPTS = 8


def payment_event_record(*, provider: str, event_id: str, event_type: str, payload: dict) -> bool:
    """Store a verified webhook event and enqueue its processing; ``False`` for a duplicate."""
    from payments import tasks

    with transaction.atomic():
        _event, created = ProviderEvent.objects.get_or_create(
            provider=provider,
            event_id=event_id,
            defaults={"type": event_type, "payload": payload},
        )
        if created:
            tasks.process_provider_event.enqueue(event_pk=_event.pk)
    return created


def payment_event_process(*, event_pk: int, handlers: dict[str, Callable[[dict], str]]) -> str:
    """Run the event's handler once it is recorded; a provider outage retries with backoff."""
    from payments import tasks

    with transaction.atomic():
        event = ProviderEvent.objects.select_for_update().get(pk=event_pk)
        if event.processed_at is not None:
            return "already processed"
        event.attempts += 1
        event.save(update_fields=["attempts"])
    handler = handlers.get(event.type)
    try:
        outcome = handler(event.payload["data"]["object"]) if handler else "not handled"
    except ProviderUnavailable as error:
        if event.attempts < EVENT_MAX_ATTEMPTS:
            with transaction.atomic():
                ProviderEvent.objects.filter(pk=event.pk).update(outcome=f"retrying: {error}")
                tasks.process_provider_event.using(
                    run_after=timezone.now() + _retry_delay(event.attempts)
                ).enqueue(event_pk=event.pk)
            return "retry scheduled"
        outcome = f"gave up after {event.attempts} attempts: {error}"
    except PaymentError as error:
        # Refused for good (asking again would not help): kept for staff to read.
        outcome = f"failed: {error.code}: {error}"
    ProviderEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(), outcome=outcome)
    return outcome


def _payment_for_event(
    provider: str, provider_reference: str, metadata: dict | None = None
) -> Payment | None:
    """The payment a provider object belongs to: by reference, or by the operation in metadata.

    An event can arrive before the shopper's request stored the reference.
    """
    payments = Payment.objects.filter(provider=provider)
    payment = payments.filter(provider_reference=provider_reference).first()
    if payment is None and provider_reference:
        operation = (metadata or {}).get("operation", "")
        prefix = "authorize-payment-"
        if operation.startswith(prefix) and re.fullmatch(r"[0-9]{1,18}", operation[len(prefix) :]):
            payment = payments.filter(pk=int(operation[len(prefix) :])).first()
    return payment


def payment_sync_authorization(*, payment_id: int, provider_reference: str) -> str:
    """Settle a pending authorization from the provider's current answer.

    For the authorization finished away from the shop (3-D Secure, PayPal,
    Alipay) or whose shopper never came back: the provider's word confirms
    or fails the order, as the shopper's return would. A payment still
    waiting for the shopper is left alone.
    """
    key = f"authorize-payment-{payment_id}"
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentStatus.PENDING:
        return f"payment already {payment.status}"
    try:
        result = get_provider(payment.provider).retrieve_authorization(provider_reference)
    except PaymentDeclined as error:
        _authorization_failed(payment_id, key, error)
        return f"authorization failed: {error.code}"
    if result.action_url:
        return "waiting for the shopper"
    payment = _authorization_succeeded(payment_id, key, result)
    return f"payment {payment.status}"


def payment_sync_with_provider(
    *, provider: str, provider_reference: str, metadata: dict | None = None
) -> str:
    """Bring a payment in line with the provider's current state (a webhook said it changed).

    - a pending authorization is settled (``payment_sync_authorization``);
    - a hold the provider cancelled or let lapse, which the shop did not
      void, is expired: the customer is asked to authorize again (staff are
      told when it was cancelled by hand in the provider's dashboard);
    - refunds made in the provider's dashboard are recorded in the ledger
      and the customer is e-mailed; the shop's own are left to their task;
    - a review closed in the dashboard as approved approves the payment
      here; closed otherwise, or a dispute, flags the payment for staff;
    - money captured outside the shop is flagged, never guessed.
    """
    payment = _payment_for_event(provider, provider_reference, metadata)
    if payment is None:
        return "no payment of this shop"
    if payment.status == PaymentStatus.PENDING:
        return payment_sync_authorization(
            payment_id=payment.pk, provider_reference=provider_reference
        )
    state = get_provider(payment.provider).retrieve_state(provider_reference)
    done: list[str] = []
    with transaction.atomic():
        payment = _lock_payment(payment.pk)
        done += _sync_cancellation(payment, state)
        done += _sync_refunds(payment, state)
        done += _sync_flags(payment, state)
        _save(payment)
    if state.review_closed_reason == "approved" and payment.status == PaymentStatus.IN_REVIEW:
        try:
            payment_request_review_approval(order_id=payment.order_id)
            done.append("review approved at the provider: approval recorded")
        except InvalidPaymentTransition:
            pass
    return "; ".join(done) or "in step"


def _sync_cancellation(payment: Payment, state: PaymentState) -> list[str]:
    holding = CAPTURABLE_STATUSES | {PaymentStatus.IN_REVIEW}
    if state.status != "cancelled" or payment.status not in holding:
        return []
    if _pending(payment, LedgerOperation.VOID) or _pending(payment, LedgerOperation.CAPTURE):
        return []  # the shop's own operation is on its way: its answer tells
    if payment.ledger.filter(operation=LedgerOperation.VOID, event=LedgerEvent.SUCCEEDED).exists():
        return []
    _expire(payment)
    if state.cancellation_reason != "expired":
        _flag(
            payment,
            "cancelled_at_provider",
            f"The payment was cancelled at the provider ({state.cancellation_reason or 'by hand'}),"
            " not by the shop; the customer was asked to authorize again.",
        )
    return ["hold cancelled at the provider: expired"]


def _sync_refunds(payment: Payment, state: PaymentState) -> list[str]:
    known = {
        value
        for pair in payment.ledger.filter(operation=LedgerOperation.REFUND).values_list(
            "provider_reference", "idempotency_key"
        )
        for value in pair
    }
    done = []
    for refund in state.refunds:
        key = f"external-refund-{refund.provider_reference}"
        if refund.operation or refund.provider_reference in known or key in known:
            continue  # the shop's own refund (its task records it), or recorded already
        amount = refund.amount
        if amount > payment.refundable_amount:
            # Never recorded in part: the ledger would then disagree with the provider.
            _flag(
                payment,
                "refund_mismatch",
                f"Refund {refund.provider_reference} of "
                f"{format_money(amount, payment.currency)} exceeds what the ledger has "
                "captured and not refunded: check the payment at the provider.",
            )
            done.append(f"refund {refund.provider_reference} exceeds the ledger: flagged")
            continue
        requested = _ledger(
            payment,
            operation=LedgerOperation.REFUND,
            event=LedgerEvent.REQUESTED,
            amount=amount,
            idempotency_key=key,
            message="refunded in the provider's dashboard",
        )
        _apply_refund(payment, requested, amount)
        _ledger(
            payment,
            operation=LedgerOperation.REFUND,
            event=LedgerEvent.SUCCEEDED,
            amount=amount,
            idempotency_key=key,
            provider_reference=refund.provider_reference,
            message="refunded in the provider's dashboard",
        )
        done.append(f"refund {refund.provider_reference} recorded")
    return done


def _sync_flags(payment: Payment, state: PaymentState) -> list[str]:
    done = []
    if state.disputed and payment.failure_code != "disputed":
        _flag(
            payment,
            "disputed",
            "The customer disputed the payment with their bank: answer the dispute in the "
            "provider's dashboard before its deadline.",
        )
        done.append("dispute flagged")
    closed = state.review_closed_reason
    if closed and closed != "approved" and payment.status == PaymentStatus.IN_REVIEW:
        _flag(
            payment,
            "review_closed",
            f"The provider's review was closed as {closed}: cancel the order or contact the "
            "customer.",
        )
        done.append(f"review closed as {closed}: flagged")
    if state.review_open and payment.status in CAPTURABLE_STATUSES:
        _flag(
            payment,
            "review_opened",
            "The provider opened a fraud review after the authorization: check the order "
            "before shipping.",
        )
        done.append("late review flagged")
    captured_by_shop = payment.captured_amount
    if state.captured_amount > captured_by_shop and not _pending(payment, LedgerOperation.CAPTURE):
        _flag(
            payment,
            "captured_outside",
            f"The provider shows {format_money(state.captured_amount, payment.currency)} "
            f"captured, the shop's ledger {format_money(captured_by_shop, payment.currency)}: "
            "a capture was made outside the shop.",
        )
        done.append("capture outside the shop flagged")
    return done
