"""What can go wrong when money moves; each class says when it is raised."""


class PaymentError(Exception):
    """Base class: a payment operation did not happen. ``code`` is for logs and the ledger."""

    code = "payment_error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class PaymentDeclined(PaymentError):
    """The provider refused the authorization (card declined, insufficient funds...)."""

    code = "declined"


class ProviderUnavailable(PaymentError):
    """The provider did not answer or answered with a temporary error: retry later."""

    code = "provider_unavailable"


class ProviderRejected(PaymentError):
    """The provider refused the operation for good (expired authorization, amount too high)."""

    code = "rejected"


class IdempotencyConflict(ProviderRejected):
    """An idempotency key was reused with different parameters."""

    code = "idempotency_conflict"


class InvalidPaymentTransition(PaymentError):
    """The payment's status does not allow this operation; nothing was sent to the provider."""

    code = "invalid_transition"


class CardSessionRefused(PaymentError):
    """A card session or token used by a checkout that did not open it, used twice, or too old.

    Raised before anything is placed or sent to the provider.
    """

    code = "card_session_refused"
