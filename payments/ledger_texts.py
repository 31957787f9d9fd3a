"""What the ledger's entries mean, in the staff's language.

The ledger keeps the provider's own words (``message``) as received, for
support; staff read these texts instead: known failure codes and the engine's
fixed notes are translated, anything else is named by its code.
"""

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

FAILURE_TEXTS = {
    "card_declined": gettext_lazy("The bank declined the card."),
    "insufficient_funds": gettext_lazy("The bank declined the card: insufficient funds."),
    "incorrect_cvc": gettext_lazy("The card's security code was wrong."),
    "expired_card": gettext_lazy("The card has expired."),
    "brand_not_accepted": gettext_lazy("This card brand is not accepted."),
    "authentication_failed": gettext_lazy("The bank's 3-D Secure check failed."),
    "authentication_abandoned": gettext_lazy("The shopper never finished 3-D Secure."),
    "authorization_expired": gettext_lazy("The authorization expired."),
    "charge_expired_for_capture": gettext_lazy("The authorization expired before the capture."),
    "capture_declined": gettext_lazy("The bank declined the capture."),
    "multicapture_unavailable": gettext_lazy(
        "This card can be captured only once: ship the rest in the same parcel, or cancel it."
    ),
    "amount_too_large": gettext_lazy("The amount is more than the payment service allows."),
    "refund_failed": gettext_lazy("The payment service could not refund."),
    "refund_in_progress": gettext_lazy("The payment service has not finished the refund yet."),
    "review_closed": gettext_lazy("The payment service closed the fraud review otherwise."),
    "charge_in_review": gettext_lazy("The payment is held by the fraud review."),
    "no_open_review": gettext_lazy("The payment has no open fraud review."),
    "charge_not_voidable": gettext_lazy("The hold can no longer be released."),
    "charge_not_found": gettext_lazy("The payment service does not know this payment."),
    "currency_mismatch": gettext_lazy("The currency differs from the payment's."),
    "provider_unavailable": gettext_lazy("The payment service did not answer."),
    "processing": gettext_lazy("The payment service is still processing."),
    "idempotency_race": gettext_lazy("The same operation was being processed already."),
    "stripe_configuration": gettext_lazy("Stripe is not configured correctly."),
    # Refusals and findings of the shop itself, not of the payment service.
    "not_capturable": gettext_lazy("The payment can no longer be captured."),
    "captures_pending": gettext_lazy("Waiting for the earlier parcels' captures."),
    "not_voidable": gettext_lazy("Nothing left to release: the hold is already gone."),
    "not_in_review": gettext_lazy("The payment is no longer held by a fraud review."),
    "order_cancelled": gettext_lazy("The order was cancelled meanwhile."),
    "payment_replaced": gettext_lazy("The shopper chose another payment."),
    "cancelled_at_provider": gettext_lazy("The payment was cancelled at the payment service."),
    "refund_mismatch": gettext_lazy(
        "The payment service's refunds differ from the shop's: check the ledger."
    ),
    "captured_outside": gettext_lazy(
        "Money was captured at the payment service outside the shop: check the ledger."
    ),
    "disputed": gettext_lazy(
        "The customer disputed the payment with their bank: answer the dispute in the "
        "payment service's dashboard before its deadline."
    ),
    "review_opened": gettext_lazy(
        "The payment service opened a fraud review after the authorization: check the "
        "order before shipping."
    ),
    "unexpected_status": gettext_lazy(
        "The payment service moved money while the payment's status had changed: check the ledger."
    ),
}
NOTE_TEXTS = {
    "3-D Secure authentication asked of the shopper": gettext_lazy(
        "3-D Secure authentication asked of the shopper"
    ),
    "the shopper never finished authenticating": gettext_lazy(
        "The shopper never finished authenticating."
    ),
    "taken at the order: the method has no separate capture": gettext_lazy(
        "Taken at the order: the method has no separate capture."
    ),
    "retry asked by staff: same key, the outcome was unknown": gettext_lazy(
        "Retry asked by staff: same key, the outcome was unknown."
    ),
    "refunded in the provider's dashboard": gettext_lazy(
        "Refunded in the payment service's dashboard."
    ),
    "finished at the provider": gettext_lazy("Finished at the payment service."),
    "no news from the worker: enqueued again": gettext_lazy(
        "No news from the worker: queued again."
    ),
}
ATTEMPT = re.compile(r"^attempt (\d+)$")
RETRY_LATER = re.compile(r"^attempt (\d+): .*; next in (\d+) s$", re.DOTALL)
RETRY_OF = re.compile(r"^retry of (\S+)$")


def failure_text(code: str) -> str:
    """A failure code in words; an unknown one is named."""
    if code in FAILURE_TEXTS:
        return str(FAILURE_TEXTS[code])
    return _("The payment service refused (code %(code)s).") % {"code": code}


def ledger_entry_text(*, error_code: str, message: str) -> str:
    """What a ledger entry (or a payment's failure) says, for staff."""
    if match := RETRY_LATER.match(message):
        reason = failure_text(error_code) if error_code else ""
        return _("Attempt %(attempt)s failed, next in %(seconds)s s. %(reason)s") % {
            "attempt": match[1],
            "seconds": match[2],
            "reason": reason,
        }
    if error_code:
        return failure_text(error_code)
    if message in NOTE_TEXTS:
        return str(NOTE_TEXTS[message])
    if match := ATTEMPT.match(message):
        return _("Attempt %(attempt)s") % {"attempt": match[1]}
    if match := RETRY_OF.match(message):
        return _("Retry of %(key)s") % {"key": match[1]}
    return message
