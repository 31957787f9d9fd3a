"""Authorization: the card form, the hold at checkout, 3-D Secure, and re-authorization.

The only money move that runs in the shopper's request (they wait for its
answer). It follows the engine's steps with the key ``keys.authorize``:
attempted under the payment's lock, the provider called with no lock held,
the outcome written with the order and then the payment locked (the engine's
one lock order), which confirms the order, holds it for review or fails it.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import SHIPPABLE_STATUSES, Order, OrderStatus
from orders.services import order_confirm, order_fail_payment, order_hold_for_review
from payments.emails import customer_email_queue
from payments.exceptions import (
    InvalidPaymentTransition,
    PaymentDeclined,
    PaymentError,
    ProviderUnavailable,
)
from payments.models import (
    VOIDABLE_STATUSES,
    CustomerEmail,
    LedgerEvent,
    LedgerOperation,
    Payment,
    PaymentStatus,
)
from payments.operations import engine, keys, ledger, payment_state
from payments.operations.capture import payment_retry_failed_captures
from payments.operations.events import provider_call
from payments.providers import get_provider
from payments.providers.base import (
    AuthorizeRequest,
    AuthorizeResult,
    CardDetails,
)

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
        elif order.status in SHIPPABLE_STATUSES:
            if order.payments.filter(status__in=VOIDABLE_STATUSES).exists():
                raise InvalidPaymentTransition(_("this order's payment is already authorized"))
            amount = payment_outstanding_amount(order_id=order.pk)
        else:
            amount = 0
        if amount <= 0:
            raise InvalidPaymentTransition(_("this order needs no payment"))
        return _new_payment(order, amount, method, payment_token, card)


def _new_payment(
    order: Order,
    amount: int,
    method: str,
    payment_token: str,
    card: CardDetails,
    return_url: str = "",
) -> Payment:
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
        return_url=return_url,
    )


@dataclass(frozen=True)
class AuthorizationAttempt:
    """An authorization written to the ledger as attempted: what to send, with which key.

    ``request`` is ``None`` when there is nothing to send (the payment is no
    longer pending, or waits for 3-D Secure): ``payment`` says where it stands.
    """

    payment: Payment
    request: AuthorizeRequest | None


def payment_authorize_attempt_for_new_order(
    *,
    order: Order,
    payment_token: str,
    card: CardDetails,
    method: str = "card",
    return_url: str = "",
) -> AuthorizationAttempt:
    """``payment_create_for_order`` then ``payment_authorize_attempt``, for an order just placed.

    Only in the transaction that created ``order`` (``order_place_or_get``
    says so): no other transaction can see its row yet, so it has no payment
    and nothing to lock; its payment and the ``attempted`` entry are written
    with it. The caller commits, then calls ``payment_authorize_send``.
    """
    if order.status != OrderStatus.PENDING_PAYMENT or order.total_amount <= 0:
        raise InvalidPaymentTransition(_("this order needs no payment"))
    with transaction.atomic():
        payment = _new_payment(
            order, order.total_amount, method, payment_token, card, return_url=return_url
        )
        return _attempted(payment, order.number)


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

    The two halves, ``payment_authorize_attempt`` then ``payment_authorize_send``,
    let the checkout write the attempt in the transaction that places the order.
    """
    attempt = payment_authorize_attempt(payment_id=payment_id, return_url=return_url)
    if attempt.request is None:
        return attempt.payment
    return payment_authorize_send(attempt=attempt)


def payment_authorize_attempt(*, payment_id: int, return_url: str = "") -> AuthorizationAttempt:
    """Under the payment's lock, write the ``attempted`` entry; return the request to send.

    Joins the caller's transaction when there is one: the checkout places the
    order, creates the payment and records this attempt in a single commit.
    The caller then commits, and only then calls ``payment_authorize_send``,
    with no lock held and outside any transaction.
    """
    with transaction.atomic():
        payment = engine.lock_payment(payment_id)
        if payment.status != PaymentStatus.PENDING or payment.action_url:
            return AuthorizationAttempt(payment=payment, request=None)
        if return_url and not payment.return_url:
            payment.return_url = return_url
            payment.save(update_fields=["return_url"])
        return _attempted(payment, payment.order.number)


def _attempted(payment: Payment, order_number: str) -> AuthorizationAttempt:
    """Write the ``attempted`` entry (in the caller's transaction) and the request to send."""
    key = keys.authorize(payment.pk)
    ledger.record(
        payment,
        operation=LedgerOperation.AUTHORIZE,
        event=LedgerEvent.ATTEMPTED,
        amount=payment.amount,
        idempotency_key=key,
    )
    # Every retry sends the same parameters (a provider refuses a key reused otherwise).
    request = AuthorizeRequest(
        amount=payment.amount,
        currency=payment.currency,
        payment_token=payment.payment_token,
        order_reference=order_number,
        idempotency_key=key,
        method=payment.method,
        return_url=payment.return_url,
    )
    return AuthorizationAttempt(payment=payment, request=request)


def payment_authorize_send(*, attempt: AuthorizationAttempt) -> Payment:
    """Send an attempted authorization (no lock held) and write its outcome.

    Raises as ``payment_authorize``.
    """
    payment, request = attempt.payment, attempt.request
    if request is None:
        return payment
    payment_id, key = payment.pk, request.idempotency_key
    provider = get_provider(payment.provider)

    def authorize() -> AuthorizeResult:
        return provider_call(
            lambda: provider.authorize(request),
            payment=payment,
            operation=LedgerOperation.AUTHORIZE,
            key=key,
            order_number=request.order_reference,
        )

    try:
        try:
            result = authorize()
        except ProviderUnavailable:
            result = authorize()  # same key: safe to ask once more
    except ProviderUnavailable:
        # The outcome is unknown: the payment stays pending. Asking again with the
        # same key (the shopper's retry, or the payments check) learns the answer.
        raise
    except PaymentError as error:
        _authorization_failed(payment_id, error)
        raise

    if result.action_url:
        with transaction.atomic():
            payment = engine.lock_payment(payment_id)
            if payment.status == PaymentStatus.PENDING and not payment.action_url:
                ledger.record(
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
    return _authorization_succeeded(payment_id, result)


def payment_complete_authentication(*, payment_id: int) -> Payment:
    """Finish an authorization after the shopper's 3-D Secure challenge.

    The outcome is read from the provider, never from the return URL.
    A challenge failed or left unfinished fails the payment as a decline
    does (``PaymentDeclined`` is raised).
    """
    with transaction.atomic():
        payment = engine.lock_payment(payment_id)
        if payment.status != PaymentStatus.PENDING or not payment.action_url:
            return payment
    try:
        result = _retrieve_authorization(payment, payment.provider_reference)
    except ProviderUnavailable:
        raise  # unknown: still pending, asked again later
    except PaymentDeclined as error:
        _authorization_failed(payment_id, error)
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
        _authorization_failed(payment_id, abandoned, cancel_at_provider=True)
        raise abandoned
    return _authorization_succeeded(payment_id, result)


def payment_abandon_authorization(*, payment_id: int) -> bool:
    """End an authorization still waiting for the shopper, who chose another way to pay.

    A pending payment with a page to visit (3-D Secure, PayPal's or Alipay's
    approval) fails as an abandoned authentication does: the order is marked
    declined, its stock released, and the authorization is cancelled at the
    provider by the worker, so finishing it later holds nothing. Returns
    whether there was one to end.
    """
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentStatus.PENDING or not payment.action_url:
        return False
    replaced = PaymentDeclined(
        "The shopper chose another payment before authenticating.", code="payment_replaced"
    )
    _authorization_failed(payment_id, replaced, cancel_at_provider=True)
    return True


def payment_sync_authorization(*, payment_id: int, provider_reference: str) -> str:
    """Settle a pending authorization from the provider's current answer.

    For the authorization finished away from the shop (3-D Secure, PayPal,
    Alipay) or whose shopper never came back: the provider's word confirms
    or fails the order, as the shopper's return would. A payment still
    waiting for the shopper is left alone.
    """
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentStatus.PENDING:
        return f"payment already {payment.status}"
    try:
        result = _retrieve_authorization(payment, provider_reference)
    except PaymentDeclined as error:
        _authorization_failed(payment_id, error)
        return f"authorization failed: {error.code}"
    if result.action_url:
        return "waiting for the shopper"
    payment = _authorization_succeeded(payment_id, result)
    return f"payment {payment.status}"


def _retrieve_authorization(payment: Payment, provider_reference: str) -> AuthorizeResult:
    """The authorization's outcome, read from the provider (and logged as an event)."""
    return provider_call(
        lambda: get_provider(payment.provider).retrieve_authorization(provider_reference),
        payment=payment,
        operation=LedgerOperation.AUTHORIZE,
        key=keys.authorize(payment.pk),
    )


def _authorization_failed(
    payment_id: int, error: PaymentError, *, cancel_at_provider: bool = False
) -> None:
    with transaction.atomic():
        payment = engine.lock_payment(payment_id, with_order=True)
        if payment.status != PaymentStatus.PENDING:
            return
        ledger.record(
            payment,
            operation=LedgerOperation.AUTHORIZE,
            event=LedgerEvent.FAILED,
            amount=payment.amount,
            idempotency_key=keys.authorize(payment_id),
            error_code=error.code,
            message=str(error),
        )
        payment_state.move(payment, PaymentStatus.FAILED)
        payment.failure_code = error.code
        payment.failure_message = str(error)
        payment.save(update_fields=["status", "failure_code", "failure_message"])
        if payment.order.status == OrderStatus.PENDING_PAYMENT:  # locked above
            order_fail_payment(order_id=payment.order_id)
        if cancel_at_provider:
            # In the worker, recorded like any void; the payment stays failed.
            engine.request(
                payment,
                operation=LedgerOperation.VOID,
                key=keys.void_abandoned(payment.pk),
                amount=0,
                message="the shopper never finished authenticating",
            )


def _authorization_succeeded(payment_id: int, result: AuthorizeResult) -> Payment:
    with transaction.atomic():
        payment = engine.lock_payment(payment_id, with_order=True)
        if payment.status != PaymentStatus.PENDING:
            return payment
        ledger.record(
            payment,
            operation=LedgerOperation.AUTHORIZE,
            event=LedgerEvent.SUCCEEDED,
            amount=result.authorized_amount,
            idempotency_key=keys.authorize(payment_id),
            provider_reference=result.provider_reference,
        )
        if result.captured_amount:  # paid at the order (Alipay): nothing to capture later
            status = PaymentStatus.CAPTURED
            ledger.record(
                payment,
                operation=LedgerOperation.CAPTURE,
                event=LedgerEvent.SUCCEEDED,
                amount=result.captured_amount,
                idempotency_key=keys.capture_at_order(payment.pk),
                provider_reference=result.provider_reference,
                message="taken at the order: the method has no separate capture",
            )
        else:
            status = PaymentStatus.IN_REVIEW if result.in_review else PaymentStatus.AUTHORIZED
        payment_state.move(payment, status)
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
        order = payment.order  # locked above, read under the lock
        replacement = order.status != OrderStatus.PENDING_PAYMENT
        if order.status == OrderStatus.PENDING_PAYMENT and result.in_review:
            order_hold_for_review(order_id=order.pk, locked=order)
            customer_email_queue(
                key=keys.email_in_review(payment.pk),
                kind=CustomerEmail.Kind.IN_REVIEW,
                order_id=order.pk,
                amount=payment.authorized_amount,
                order=order,
            )
        elif order.status == OrderStatus.PENDING_PAYMENT:
            order_confirm(order_id=order.pk, locked=order)
            customer_email_queue(
                key=keys.email_placed(order.pk),
                kind=CustomerEmail.Kind.PLACED,
                order_id=order.pk,
                amount=payment.captured_amount or payment.authorized_amount,
                order=order,
            )
        else:
            # A replacement: the expired holds are settled by this one.
            Payment.objects.filter(order_id=order.pk, status=PaymentStatus.EXPIRED).update(
                needs_attention=False
            )
    if replacement:
        payment_retry_failed_captures(order_id=order.pk)
    return payment
