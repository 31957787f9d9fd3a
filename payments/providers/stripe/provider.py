"""The Stripe provider: PaymentIntents through the official library's ``StripeClient``.

No ORM here. Every POST carries the idempotency key the service derived from
the business operation, so a retry (the library's own after a network error,
or the worker's) replays Stripe's first answer instead of moving money again.
Stripe's errors become ``payments.exceptions`` errors.

How the methods map (``payments/methods.py`` says which captures when):

- cards, Apple Pay and Google Pay (cards in a wallet) and PayPal are held with
  manual capture, set per method through ``payment_method_options``; cards
  ask for multicapture, so each parcel captures its share;
- Alipay has no separate capture: it is taken at once (automatic capture).
"""

from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from payments.exceptions import (
    PaymentDeclined,
    ProviderRejected,
    ProviderUnavailable,
)
from payments.methods import METHODS, authorization_validity
from payments.providers.base import (
    ApproveReviewRequest,
    ApproveReviewResult,
    AuthorizeRequest,
    AuthorizeResult,
    CaptureRequest,
    CaptureResult,
    CardSessionRequest,
    CardSessionResult,
    CompletedCardSession,
    PaymentProvider,
    PaymentState,
    ProviderRecord,
    ProviderRefund,
    RefundRequest,
    RefundResult,
    VoidRequest,
    VoidResult,
)
from payments.providers.stripe import listing
from payments.providers.stripe.mapping import (
    BRANDS,
    as_payment_error,
    card_of,
    decline_code,
    field_of,
    method_of,
)

# Signed parameters of the shop's own Stripe pages (payment form, next action).
SESSION_SALT = "payments.stripe.session"
ACTION_SALT = "payments.stripe.action"
SESSION_MAX_AGE = 60 * 60
# Our method -> the Stripe payment method type the Payment Element offers.
PAYMENT_METHOD_TYPE = {
    "card": "card",
    "apple_pay": "card",
    "google_pay": "card",
    "paypal": "paypal",
    "alipay": "alipay",
}
EXPAND = ["latest_charge", "review"]
# A Refund Stripe has not finished: it may still succeed or fail.
REFUND_IN_PROGRESS = ("pending", "requires_action")
# The service's key names the operation: a checkout given up at the bank's 3-D Secure page
# (``void-abandoned-payment-<id>``) is cancelled as ``abandoned``, any other void as the
# shop's (and so the customer's) request.
ABANDONED_VOID_PREFIX = "void-abandoned-"


def build_http_client() -> stripe.HTTPClient:
    """The HTTP client with the configured timeouts (tests swap in a fake)."""
    return stripe.RequestsClient(
        timeout=(settings.STRIPE_CONNECT_TIMEOUT_SECONDS, settings.STRIPE_READ_TIMEOUT_SECONDS)
    )


def build_client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        http_client=build_http_client(),
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
    )


def capture_method_for(method: str) -> str:
    """``manual`` (held, captured at shipment) or ``automatic`` (taken at once)."""
    return "automatic" if METHODS[method].capture == "immediate" else "manual"


def action_token(payment_intent_id: str, return_url: str) -> str:
    return signing.dumps({"pi": payment_intent_id, "return": return_url}, salt=ACTION_SALT)


class StripeProvider(PaymentProvider):
    name = "stripe"

    def __init__(self, client: stripe.StripeClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> stripe.StripeClient:
        if self._client is None:
            self._client = build_client()
        return self._client

    @property
    def is_test_mode(self) -> bool:  # type: ignore[override]
        return "_live_" not in settings.STRIPE_SECRET_KEY

    def _call(self, function, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except stripe.StripeError as error:
            raise as_payment_error(error) from error

    # The payment form ------------------------------------------------------

    def create_card_session(self, request: CardSessionRequest) -> CardSessionResult:
        """The shop's page with the Payment Element; nothing is sent to Stripe yet.

        The page creates a ConfirmationToken in the browser and comes back to
        ``return_url`` with its id; the PaymentIntent is made at "Place order".
        """
        token = signing.dumps(
            {
                "amount": request.amount,
                "currency": request.currency.lower(),
                "method": request.method,
                "return": request.return_url,
                "cancel": request.cancel_url,
                "language": request.language,
            },
            salt=SESSION_SALT,
        )
        return CardSessionResult(
            session_id=token,
            redirect_url=f"{reverse('stripe:payment_form')}?s={token}",
            returns_session_id=False,
        )

    def retrieve_card_session(self, session_id: str) -> CompletedCardSession | None:
        """Read the ConfirmationToken from Stripe: the method and the card's outline."""
        if not session_id.startswith("ctoken_"):
            return None
        try:
            token = self.client.v1.confirmation_tokens.retrieve(session_id)
        except stripe.InvalidRequestError:
            return None
        except stripe.StripeError as error:
            raise as_payment_error(error) from error
        preview = token.payment_method_preview
        if preview is None or token.payment_intent:
            return None  # incomplete, or already used for a payment
        method = method_of(preview)
        if method not in METHODS:
            raise PaymentDeclined("This payment method is not accepted.", code="card_declined")
        card = card_of(preview)
        if field_of(preview, "type") == "card" and card.brand not in BRANDS.values():
            raise PaymentDeclined(
                f"{card.brand} cards are not accepted.", code="brand_not_accepted"
            )
        return CompletedCardSession(
            session_id=session_id, payment_token=token.id, card=card, method=method
        )

    # Authorization ---------------------------------------------------------

    def authorize(self, request: AuthorizeRequest) -> AuthorizeResult:
        """Create and confirm the PaymentIntent on the server, amount from the order."""
        kind = PAYMENT_METHOD_TYPE[request.method]
        capture_method = capture_method_for(request.method)
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "confirm": True,
            "confirmation_token": request.payment_token,
            "capture_method": capture_method,
            # The pinned version refuses ``payment_method_types`` (removed in
            # 2026-09-30.endive): ``allowed_payment_method_types`` limits the
            # PaymentIntent to the method chosen at checkout.
            "allowed_payment_method_types": [kind],
            "metadata": {
                "order_number": request.order_reference,
                "operation": request.idempotency_key,
            },
            "expand": EXPAND,
        }
        if request.return_url:
            params["return_url"] = request.return_url
        if capture_method == "manual":
            options: dict[str, Any] = {"capture_method": "manual"}
            if kind == "card":
                options["request_multicapture"] = "if_available"
            params["payment_method_options"] = {kind: options}
        intent = self._call(
            self.client.v1.payment_intents.create,
            params=params,
            options={"idempotency_key": request.idempotency_key},
        )
        return self._authorization(intent, return_url=request.return_url, method=request.method)

    def retrieve_authorization(self, provider_reference: str) -> AuthorizeResult:
        intent = self._retrieve(provider_reference)
        return self._authorization(intent)

    def _retrieve(self, provider_reference: str) -> Any:
        return self._call(
            self.client.v1.payment_intents.retrieve,
            provider_reference,
            params={"expand": EXPAND},
        )

    def _authorization(
        self, intent: Any, *, return_url: str = "", method: str = ""
    ) -> AuthorizeResult:
        status = intent.status
        if status == "requires_action":
            redirect = field_of(field_of(intent.next_action, "redirect_to_url"), "return_url", "")
            return AuthorizeResult(
                provider_reference=intent.id,
                authorized_amount=0,
                card=None,
                expires_at=timezone.now(),
                action_url=(
                    f"{reverse('stripe:next_action')}"
                    f"?t={action_token(intent.id, return_url or redirect)}"
                ),
            )
        if status == "processing":
            raise ProviderUnavailable("Stripe is still processing the payment.", code="processing")
        if status in ("requires_payment_method", "canceled", "requires_confirmation"):
            error = field_of(intent, "last_payment_error")
            code = decline_code(error) if error else "card_declined"
            message = field_of(error, "message", f"The payment intent is {status}.")
            raise PaymentDeclined(message, code=code)
        charge = field_of(intent, "latest_charge")
        details = field_of(charge, "payment_method_details")
        method = method_of(details) if details is not None else method or "card"
        review = field_of(intent, "review")
        in_review = bool(field_of(review, "open", False)) if not isinstance(review, str) else True
        if status == "succeeded":
            # Taken at once (Alipay): the authorization is the payment.
            return AuthorizeResult(
                provider_reference=intent.id,
                authorized_amount=intent.amount,
                card=card_of(details),
                expires_at=timezone.now(),
                in_review=in_review,
                captured_amount=intent.amount_received,
            )
        if status != "requires_capture":
            raise ProviderRejected(f"Unexpected PaymentIntent status {status!r}.")
        capture_before = field_of(field_of(details, "card"), "capture_before")
        expires_at = (
            datetime.fromtimestamp(capture_before, tz=UTC)
            if capture_before
            else timezone.now() + authorization_validity(method if method in METHODS else "card")
        )
        return AuthorizeResult(
            provider_reference=intent.id,
            authorized_amount=intent.amount_capturable,
            card=card_of(details),
            expires_at=expires_at,
            in_review=in_review,
        )

    def client_secret(self, provider_reference: str) -> tuple[str, str, str]:
        """For the shop's next-action page: the status, client secret and redirect URL."""
        intent = self._call(self.client.v1.payment_intents.retrieve, provider_reference)
        action = field_of(intent, "next_action")
        # redirect_to_url, alipay_handle_redirect...: the page, for browsers without JavaScript.
        redirect = field_of(field_of(action, field_of(action, "type", "")), "url", "")
        return intent.status, intent.client_secret, redirect

    def retrieve_state(self, provider_reference: str) -> PaymentState:
        """The PaymentIntent now, with its charge, review and refunds (for webhook handlers)."""
        intent = self._retrieve(provider_reference)
        refunds = self._call(
            self.client.v1.refunds.list,
            params={"payment_intent": provider_reference, "limit": 100},
        )
        status = {
            "requires_capture": "authorized",
            "succeeded": "captured",
            "canceled": "cancelled",
        }.get(intent.status, "pending")
        if intent.status == "requires_payment_method" and field_of(intent, "last_payment_error"):
            status = "failed"
        reason = field_of(intent, "cancellation_reason", "")
        review = field_of(intent, "review")
        charge = field_of(intent, "latest_charge")
        return PaymentState(
            provider_reference=intent.id,
            status=status,
            captured_amount=intent.amount_received,
            capturable_amount=intent.amount_capturable,
            cancellation_reason="expired" if reason == "automatic" else reason,
            review_open=bool(field_of(review, "open", False)),
            review_closed_reason=(
                ""
                if review is None or field_of(review, "open", False)
                else field_of(review, "closed_reason", "")
            ),
            refunds=tuple(
                ProviderRefund(
                    provider_reference=refund.id,
                    amount=refund.amount,
                    operation=field_of(field_of(refund, "metadata"), "operation", ""),
                )
                for refund in refunds.data
                if refund.status == "succeeded"  # one in progress has moved nothing yet
            ),
            disputed=bool(field_of(charge, "disputed", False)),
        )

    # After the order -------------------------------------------------------

    def capture(self, request: CaptureRequest) -> CaptureResult:
        """Capture one parcel's amount; the final capture releases what is left.

        A capture that is not the last needs multicapture on the charge; when
        the card has none, it is refused before anything is sent (the rest of
        the hold would be released).
        """
        params: dict[str, Any] = {"amount_to_capture": request.amount, "expand": EXPAND}
        if not request.final:
            intent = self._retrieve(request.provider_reference)
            charge = field_of(intent, "latest_charge")
            card = field_of(field_of(charge, "payment_method_details"), "card")
            if field_of(field_of(card, "multicapture"), "status") == "available":
                params["final_capture"] = False
            elif intent.amount_capturable != request.amount:
                raise ProviderRejected(
                    "This payment can be captured only once (the card has no multicapture): "
                    "ship the rest of the order in the same parcel, or cancel it.",
                    code="multicapture_unavailable",
                )
        intent = self._call(
            self.client.v1.payment_intents.capture,
            request.provider_reference,
            params=params,
            options={"idempotency_key": request.idempotency_key},
        )
        return CaptureResult(provider_reference=intent.id, captured_amount=request.amount)

    def approve_review(self, request: ApproveReviewRequest) -> ApproveReviewResult:
        """Approve the Radar review; one already closed as approved counts as done."""
        intent = self._retrieve(request.provider_reference)
        review = field_of(intent, "review")
        if review is None:
            return ApproveReviewResult(provider_reference=intent.id)
        review_id = review if isinstance(review, str) else review.id
        if isinstance(review, str) or field_of(review, "open", False):
            try:
                self.client.v1.reviews.approve(
                    review_id, options={"idempotency_key": request.idempotency_key}
                )
            except stripe.InvalidRequestError as error:
                current = self._call(self.client.v1.reviews.retrieve, review_id)
                if current.open or current.closed_reason != "approved":
                    raise as_payment_error(error) from error
            except stripe.StripeError as error:
                raise as_payment_error(error) from error
        elif field_of(review, "closed_reason") != "approved":
            raise ProviderRejected(
                f"Stripe's review was closed as {field_of(review, 'closed_reason')}.",
                code="review_closed",
            )
        return ApproveReviewResult(provider_reference=review_id)

    def void(self, request: VoidRequest) -> VoidResult:
        """Cancel the PaymentIntent: Stripe releases what was held and not captured.

        One Stripe already cancelled (its hold lapsed) has nothing left to release.
        """
        reason = (
            "abandoned"
            if request.idempotency_key.startswith(ABANDONED_VOID_PREFIX)
            else "requested_by_customer"
        )
        try:
            intent = self.client.v1.payment_intents.cancel(
                request.provider_reference,
                params={"cancellation_reason": reason, "expand": EXPAND},
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.InvalidRequestError as error:
            intent = self._retrieve(request.provider_reference)
            if intent.status != "canceled":
                raise as_payment_error(error) from error
        except stripe.StripeError as error:
            raise as_payment_error(error) from error
        # Something was held only if a charge went through (not for one still
        # waiting for 3-D Secure).
        held = field_of(field_of(intent, "latest_charge"), "status") == "succeeded"
        return VoidResult(
            provider_reference=intent.id,
            released_amount=intent.amount - intent.amount_received if held else 0,
        )

    def refund(self, request: RefundRequest) -> RefundResult:
        """A Refund of the PaymentIntent; its metadata names the shop's operation.

        A refund Stripe has not finished (``pending``, or ``requires_action``:
        the customer has to give details) is in progress, not done: the service
        is told the provider is not there yet (``ProviderUnavailable``), asks
        again later with the same key, and the webhook (``refund.updated``,
        ``charge.refunded``) records it as soon as Stripe finishes it.
        """
        refund = self._call(
            self.client.v1.refunds.create,
            params={
                "payment_intent": request.provider_reference,
                "amount": request.amount,
                "metadata": {"operation": request.idempotency_key},
            },
            options={"idempotency_key": request.idempotency_key},
        )
        if refund.status in REFUND_IN_PROGRESS:
            # A repeated key replays Stripe's first answer: ask for the refund as it is now.
            refund = self._call(self.client.v1.refunds.retrieve, refund.id)
        if refund.status in ("failed", "canceled"):
            raise ProviderRejected(
                f"Stripe could not refund: {field_of(refund, 'failure_reason') or refund.status}.",
                code="refund_failed",
            )
        if refund.status != "succeeded":
            raise ProviderUnavailable(
                f"Stripe has not finished refund {refund.id} yet ({refund.status}).",
                code="refund_in_progress",
            )
        return RefundResult(provider_reference=refund.id, refunded_amount=refund.amount)

    # Reconciliation ------------------------------------------------------------

    def list_records(self, *, since: datetime, until: datetime) -> list[ProviderRecord]:
        """What Stripe moved in the period (``listing.list_records``)."""
        return self._call(listing.list_records, self.client, since=since, until=until)
