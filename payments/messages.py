"""What the shopper is told when a payment does not go through."""

from django.utils.translation import gettext as _


def payment_failure_message(code: str) -> str:
    if code == "insufficient_funds":
        return _(
            "Your bank declined the card for insufficient funds. Nothing was charged: "
            "try another card."
        )
    if code == "card_declined":
        return _(
            "Your bank declined the card. Nothing was charged: try another card or "
            "contact your bank."
        )
    if code == "incorrect_cvc":
        return _(
            "Your bank declined the card: the security code is not right. Nothing was "
            "charged: enter the card again."
        )
    if code == "brand_not_accepted":
        return _(
            "We accept Visa, Mastercard and American Express cards only. Nothing was charged: "
            "try another card."
        )
    if code == "expired_card":
        return _("This card has expired. Nothing was charged: try another card.")
    if code == "authentication_failed":
        return _(
            "Your bank could not confirm that the payment is yours (3-D Secure). Nothing was "
            "charged: try again or use another card."
        )
    if code == "authentication_abandoned":
        return _(
            "The confirmation with your bank (3-D Secure) was not finished. Nothing was "
            "charged: your cart is kept, try again when you are ready."
        )
    if code == "authentication_expired":
        return _(
            "The confirmation with your bank (3-D Secure) came too late: the order was "
            "cancelled and nothing will be charged. Your cart is kept, but its items are no "
            "longer reserved: pay again to order them."
        )
    if code == "provider_unavailable":
        return _(
            "The payment service is not answering. Nothing was charged: please try again "
            "in a few minutes."
        )
    if code == "card_session_refused":
        return _(
            "These card details do not belong to this checkout. Nothing was charged: "
            "please enter your card again."
        )
    if code == "card_session_expired":
        return _(
            "Your card details were entered too long ago. Nothing was charged: please "
            "enter your card again."
        )
    return _("The payment could not be authorized. Nothing was charged: please try again.")
