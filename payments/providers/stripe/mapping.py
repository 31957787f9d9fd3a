"""Stripe's objects and errors in the shop's terms: card outline, method, failure codes.

Only error codes the pinned API version documents are matched; anything else
is a generic refusal (``ProviderRejected``).
"""

from typing import Any

import stripe

from payments.exceptions import (
    IdempotencyConflict,
    PaymentDeclined,
    PaymentError,
    ProviderRejected,
    ProviderUnavailable,
)
from payments.providers.base import CardDetails

# The card brands the boutique accepts, as Stripe names them.
BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express"}


def decline_code(error: Any) -> str:
    """Stripe's decline (``code`` and ``decline_code``) as the shop's failure codes."""
    code = field_of(error, "code", "")
    decline = field_of(error, "decline_code", "")
    if "insufficient_funds" in (code, decline):
        return "insufficient_funds"
    if "incorrect_cvc" in (code, decline) or "invalid_cvc" in (code, decline):
        return "incorrect_cvc"
    if "expired_card" in (code, decline):
        return "expired_card"
    if code == "payment_intent_authentication_failure":
        return "authentication_failed"
    return "card_declined"


def as_payment_error(error: stripe.StripeError) -> PaymentError:
    message = error.user_message or str(error)
    code = getattr(error, "code", None) or ""
    if isinstance(error, stripe.CardError):
        return PaymentDeclined(message, code=decline_code(error.error))
    if isinstance(error, stripe.IdempotencyError):
        return IdempotencyConflict(message)
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return ProviderUnavailable(message)
    if isinstance(error, stripe.APIError) or (error.http_status or 0) >= 500:
        return ProviderUnavailable(message)
    if code == "charge_expired_for_capture":
        return ProviderRejected(message, code="authorization_expired")
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderRejected(message, code="stripe_configuration")
    return ProviderRejected(message, code=code or "rejected")


def field_of(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a Stripe object (or plain dict), ``default`` when absent or null."""
    if obj is None:
        return default
    try:
        value = obj[name]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def card_of(details: Any) -> CardDetails:
    """The outline the shop keeps: brand, last four digits and expiry; no digits for others."""
    card = field_of(details, "card")
    if card is None:
        return CardDetails(brand="", last4="", exp_month=0, exp_year=0)
    return CardDetails(
        brand=BRANDS.get(field_of(card, "brand", ""), str(field_of(card, "brand", "")).title()),
        last4=field_of(card, "last4", ""),
        exp_month=field_of(card, "exp_month", 0),
        exp_year=field_of(card, "exp_year", 0),
    )


def method_of(details: Any) -> str:
    """Our method code for Stripe's payment method details (a wallet is a card in a wallet)."""
    kind = field_of(details, "type", "card")
    if kind == "card":
        wallet = field_of(field_of(field_of(details, "card"), "wallet"), "type", "")
        return wallet if wallet in ("apple_pay", "google_pay") else "card"
    return kind
