"""Where the shopper is in the checkout, kept in the session.

Holds the customer details, the chosen shipping method, the outline of the
card (the provider's token, brand, last four, expiry: never the number or the
security code) and a token naming this checkout attempt, so that a second
submit of "Place order" finds the first order instead of placing another.
"""

import uuid
from typing import Any

from django.contrib.sessions.backends.base import SessionBase

from orders.shipping import SHIPPING_METHODS


class CheckoutState:
    SESSION_KEY = "checkout"
    PLACED_ORDERS_KEY = "placed_orders"

    def __init__(self, session: SessionBase) -> None:
        self.session = session
        self.data: dict[str, Any] = dict(session.get(self.SESSION_KEY, {}))

    def _save(self) -> None:
        self.session[self.SESSION_KEY] = self.data

    @property
    def customer(self) -> dict[str, str] | None:
        return self.data.get("customer")

    def set_customer(self, customer: dict[str, str]) -> None:
        self.data["customer"] = customer
        self._save()

    @property
    def shipping_method(self) -> str | None:
        code = self.data.get("shipping_method")
        return code if code in SHIPPING_METHODS else None

    def set_shipping_method(self, code: str) -> None:
        self.data["shipping_method"] = code
        self._save()

    @property
    def payment(self) -> dict[str, Any] | None:
        return self.data.get("payment")

    def set_payment(self, payment: dict[str, Any]) -> None:
        self.data["payment"] = payment
        self._save()

    def clear_payment(self) -> None:
        self.data.pop("payment", None)
        self._save()

    @property
    def token(self) -> uuid.UUID:
        if "token" not in self.data:
            self.renew_token()
        return uuid.UUID(self.data["token"])

    def renew_token(self) -> None:
        if "token" in self.data:
            self.data["earlier_tokens"] = [
                *self.data.get("earlier_tokens", []),
                self.data["token"],
            ][-10:]
        self.data["token"] = str(uuid.uuid4())
        self._save()

    def mark_submitted(self) -> None:
        """Place order was sent with the current token (so an order may exist for it)."""
        self.data["submitted"] = self.data.get("token")
        self._save()

    @property
    def submitted(self) -> bool:
        """Whether Place order was sent with the current token (a new token clears it)."""
        return self.data.get("submitted") is not None and self.data["submitted"] == self.data.get(
            "token"
        )

    def was_token(self, value: str) -> bool:
        """Whether ``value`` named an earlier attempt of this checkout (a page left open)."""
        return value in self.data.get("earlier_tokens", [])

    def first_missing_step(self) -> str | None:
        if not self.customer:
            return "details"
        if not self.shipping_method:
            return "shipping"
        if not self.payment:
            return "payment"
        return None

    def finish(self, order_token: uuid.UUID) -> None:
        """Forget this checkout and remember that this session placed the order."""
        placed = [*self.session.get(self.PLACED_ORDERS_KEY, []), str(order_token)][-20:]
        self.session[self.PLACED_ORDERS_KEY] = placed
        self.session.pop(self.SESSION_KEY, None)

    def placed(self, order_token: uuid.UUID) -> bool:
        return str(order_token) in self.session.get(self.PLACED_ORDERS_KEY, [])
