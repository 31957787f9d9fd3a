"""The sandbox's test cards and the outcome each one produces.

Any other number is refused, as a real service in test mode refuses real
cards: nothing here ever handles a real card.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

VISA = "Visa"
MASTERCARD = "Mastercard"
AMEX = "American Express"


class Behaviour:
    APPROVE = "approve"
    DECLINE = "decline"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INCORRECT_CVC = "incorrect_cvc"
    EXPIRED_CARD = "expired_card"
    REVIEW = "review"
    THREE_DS = "three_d_secure"
    CAPTURE_FAILS = "capture_fails"


@dataclass(frozen=True)
class TestCard:
    __test__ = False  # not a pytest test class

    number: str
    brand: str
    behaviour: str
    description: str | Promise


TEST_CARDS: dict[str, TestCard] = {
    card.number: card
    for card in (
        TestCard("4242424242424242", VISA, Behaviour.APPROVE, _("Approved")),
        TestCard("5555555555554444", MASTERCARD, Behaviour.APPROVE, _("Approved")),
        TestCard("378282246310005", AMEX, Behaviour.APPROVE, _("Approved")),
        TestCard("4000000000000002", VISA, Behaviour.DECLINE, _("Declined")),
        TestCard("4000000000009995", VISA, Behaviour.INSUFFICIENT_FUNDS, _("Insufficient funds")),
        TestCard(
            "4000000000000101", VISA, Behaviour.INCORRECT_CVC, _("Declined: wrong security code")
        ),
        TestCard(
            "4000000000000069", VISA, Behaviour.EXPIRED_CARD, _("Declined: the card has expired")
        ),
        TestCard(
            "4000002760003184",
            VISA,
            Behaviour.THREE_DS,
            _("Asks for 3-D Secure: approve, fail or abandon the challenge"),
        ),
        TestCard(
            "4000000000009235",
            VISA,
            Behaviour.REVIEW,
            _("Authorized, then held for fraud review until staff approve or reject it"),
        ),
        TestCard(
            "4000000000000341",
            VISA,
            Behaviour.CAPTURE_FAILS,
            _("Authorized, but the capture at shipment is declined"),
        ),
    )
}


def luhn_valid(number: str) -> bool:
    if not (number.isascii() and number.isdigit()) or len(number) < 12:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def detect_brand(number: str) -> str | None:
    """The brand a number belongs to, among those the shop accepts, else ``None``."""
    if number.startswith("4") and len(number) in (13, 16, 19):
        return VISA
    if number[:2] in ("34", "37") and len(number) == 15:
        return AMEX
    if len(number) == 16 and (51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720):
        return MASTERCARD
    return None


def security_code_length(brand: str) -> int:
    return 4 if brand == AMEX else 3
