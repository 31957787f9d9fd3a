"""The checkout: where the shopper is (``state``) and placing the order (``services``)."""

from shop.checkout.state import CheckoutState

__all__ = ["CheckoutState"]
