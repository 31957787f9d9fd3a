"""The provider boundary: dataclasses in, dataclasses out, no ORM.

Services own state, locks and the ledger; a provider only talks to the
payment service. Failures are raised as ``payments.exceptions`` errors:
``PaymentDeclined`` (the shopper's bank said no), ``ProviderUnavailable``
(try again later) and ``ProviderRejected`` (never going to work).
"""

import abc
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class CardDetails:
    """What the shop may keep of a card."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, kw_only=True)
class CardSessionRequest:
    """Open the provider's hosted card form; it sends the shopper back to ``return_url``."""

    amount: int
    currency: str
    return_url: str
    cancel_url: str
    language: str
    # "card" for the card form; a wallet ("apple_pay", "google_pay") for its sheet.
    method: str = "card"


@dataclass(frozen=True, kw_only=True)
class CardSessionResult:
    session_id: str
    redirect_url: str
    # Whether the shopper comes back with ``session_id`` (the sandbox) or with a
    # token the browser made (Stripe's ConfirmationToken).
    returns_session_id: bool = True


@dataclass(frozen=True, kw_only=True)
class CompletedCardSession:
    """A hosted card form the shopper filled in: a single-use token and the card's outline."""

    session_id: str
    payment_token: str
    # The card's outline; for PayPal and Alipay, the service's name and no digits.
    card: CardDetails
    method: str = "card"


@dataclass(frozen=True, kw_only=True)
class AuthorizeRequest:
    amount: int
    currency: str
    payment_token: str
    order_reference: str
    idempotency_key: str
    method: str = "card"
    # Where the shopper comes back after a 3-D Secure challenge.
    return_url: str = ""


@dataclass(frozen=True, kw_only=True)
class AuthorizeResult:
    provider_reference: str
    authorized_amount: int
    card: CardDetails | None
    expires_at: datetime
    # The provider's fraud check holds the payment until a review approves it.
    in_review: bool = False
    # 3-D Secure: the shopper must authenticate on this page first; then the
    # result is read with ``retrieve_authorization``.
    action_url: str = ""
    # Methods without a separate capture (Alipay) are taken at once.
    captured_amount: int = 0


@dataclass(frozen=True, kw_only=True)
class CaptureRequest:
    provider_reference: str
    amount: int
    currency: str
    idempotency_key: str
    final: bool


@dataclass(frozen=True, kw_only=True)
class CaptureResult:
    provider_reference: str
    captured_amount: int


@dataclass(frozen=True, kw_only=True)
class ApproveReviewRequest:
    provider_reference: str
    idempotency_key: str


@dataclass(frozen=True, kw_only=True)
class ApproveReviewResult:
    provider_reference: str


@dataclass(frozen=True, kw_only=True)
class VoidRequest:
    provider_reference: str
    idempotency_key: str


@dataclass(frozen=True, kw_only=True)
class VoidResult:
    provider_reference: str
    released_amount: int


@dataclass(frozen=True, kw_only=True)
class RefundRequest:
    provider_reference: str
    amount: int
    currency: str
    idempotency_key: str


@dataclass(frozen=True, kw_only=True)
class RefundResult:
    provider_reference: str
    refunded_amount: int


@dataclass(frozen=True, kw_only=True)
class ProviderRefund:
    provider_reference: str
    amount: int
    # The shop's operation (idempotency key) that asked for it; "" when made
    # elsewhere (the provider's dashboard).
    operation: str = ""


@dataclass(frozen=True, kw_only=True)
class ProviderRecord:
    """A movement of money as the provider lists it, for the reconciliation.

    ``kind`` is "capture" or "refund". ``total``: one record for every capture
    of the payment (providers that list payments, not captures).
    """

    kind: str
    payment_reference: str
    reference: str
    # The shop's operation (idempotency key) it carries; "" when made elsewhere.
    operation: str
    amount: int
    currency: str
    # "succeeded", or the provider's word for a movement not (yet) done.
    status: str = "succeeded"
    total: bool = False


@dataclass(frozen=True, kw_only=True)
class PaymentState:
    """How the provider sees a payment now (webhook handlers act on this, not on the event)."""

    provider_reference: str
    # "pending" (the shopper must act), "authorized", "captured", "cancelled", "failed".
    status: str
    captured_amount: int
    capturable_amount: int
    # Why it was cancelled: "expired" when the hold lapsed, else the provider's reason.
    cancellation_reason: str = ""
    review_open: bool = False
    # "approved", or why the review was closed otherwise; "" when none was closed.
    review_closed_reason: str = ""
    refunds: tuple[ProviderRefund, ...] = ()
    disputed: bool = False


@dataclass(frozen=True, kw_only=True)
class ProviderNotice:
    """What a provider's webhook event is about, decoded by that provider.

    Only which payment: handlers never trust the event for the payment's
    state, they read it afresh (``retrieve_state``), so events may arrive in
    any order.
    """

    # The provider's reference of the payment; "" when the event names none.
    provider_reference: str
    # The shop's operation (idempotency key) the provider's object carries, if any:
    # it finds the payment when the event arrives before the reference was stored.
    operation: str = ""


class PaymentProvider(abc.ABC):
    name: str
    is_test_mode: bool = False

    @abc.abstractmethod
    def create_card_session(self, request: CardSessionRequest) -> CardSessionResult:
        """Start the hosted card form the shopper is redirected to."""

    @abc.abstractmethod
    def retrieve_card_session(self, session_id: str) -> CompletedCardSession | None:
        """The completed card form, read from the provider, or ``None`` if not completed."""

    @abc.abstractmethod
    def authorize(self, request: AuthorizeRequest) -> AuthorizeResult:
        """Hold ``amount`` on the card; raises ``PaymentDeclined`` when refused."""

    @abc.abstractmethod
    def retrieve_authorization(self, provider_reference: str) -> AuthorizeResult:
        """The authorization as it stands now; raises ``PaymentDeclined`` if it was refused."""

    @abc.abstractmethod
    def capture(self, request: CaptureRequest) -> CaptureResult:
        """Take ``amount`` of an authorization; ``final`` releases what is left."""

    @abc.abstractmethod
    def approve_review(self, request: ApproveReviewRequest) -> ApproveReviewResult:
        """Close the provider's fraud review as approved, so the payment can be captured."""

    @abc.abstractmethod
    def void(self, request: VoidRequest) -> VoidResult:
        """Release an authorization that was not (fully) captured."""

    @abc.abstractmethod
    def refund(self, request: RefundRequest) -> RefundResult:
        """Give back up to what was captured and not yet refunded."""

    def retrieve_state(self, provider_reference: str) -> PaymentState:
        """The payment as the provider sees it now; for providers that send webhooks."""
        raise NotImplementedError(f"{self.name} sends no webhooks")

    def list_records(self, *, since: datetime, until: datetime) -> list[ProviderRecord]:
        """Captures and refunds made in ``[since, until)``, for the reconciliation."""
        raise NotImplementedError(f"{self.name} cannot list its records")
