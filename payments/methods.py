"""Payment methods as data: when money moves, how long a hold lasts, where it is offered.

Checkout, the provider and the e-mails read this table; nothing else decides it.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# The card brands the shop accepts (both providers refuse the others).
CARD_BRANDS = ("Visa", "Mastercard", "American Express")

APPLE_DEVICE = re.compile(r"iPhone|iPad")
# Safari on iOS; other iOS browsers add their own token (CriOS, FxiOS, EdgiOS...).
SAFARI = re.compile(r"Version/[\d.]+ .*Safari/")
OTHER_IOS_BROWSER = re.compile(r"CriOS|FxiOS|EdgiOS|OPiOS")
ANDROID = re.compile(r"Android")
CHROME = re.compile(r"Chrome/[\d.]+")
OTHER_ANDROID_BROWSER = re.compile(r"SamsungBrowser|Firefox|EdgA|OPR/")


@dataclass(frozen=True)
class MethodSpec:
    code: str
    label: str | Promise
    # "manual": authorized at order, captured at shipment.
    # "immediate": paid at order; nothing to capture later (cancelling refunds).
    capture: str
    authorization_days: int
    # "card": the card form; "wallet": the device's payment sheet; "approval":
    # the shopper is sent to the service's own page to log in and approve.
    page: str
    # Which devices and browsers support it: "" for all.
    devices: str = ""

    def offered_to(self, user_agent: str) -> bool:
        if self.devices == "apple":
            return bool(
                APPLE_DEVICE.search(user_agent)
                and SAFARI.search(user_agent)
                and not OTHER_IOS_BROWSER.search(user_agent)
            )
        if self.devices == "android":
            return bool(
                ANDROID.search(user_agent)
                and CHROME.search(user_agent)
                and not OTHER_ANDROID_BROWSER.search(user_agent)
            )
        return True


METHODS: dict[str, MethodSpec] = {
    spec.code: spec
    for spec in (
        # Card networks hold online card authorizations for about 7 days.
        MethodSpec("card", _("Card"), "manual", 7, page="card"),
        # Wallets pay with a card kept on the phone: a card authorization.
        MethodSpec("apple_pay", "Apple Pay", "manual", 7, page="wallet", devices="apple"),
        MethodSpec("google_pay", "Google Pay", "manual", 7, page="wallet", devices="android"),
        # PayPal honours an authorization for 29 days (3 guaranteed).
        MethodSpec("paypal", "PayPal", "manual", 29, page="approval"),
        # Alipay has no separate capture: the money is taken at the order.
        MethodSpec("alipay", "Alipay", "immediate", 0, page="approval"),
    )
}


def methods_offered(user_agent: str) -> list[MethodSpec]:
    """The methods this browser can use, wallets first where the device has one."""
    offered = [spec for spec in METHODS.values() if spec.offered_to(user_agent)]
    return sorted(offered, key=lambda spec: spec.page != "wallet")


def authorization_validity(method: str) -> timedelta:
    """How long an authorization of ``method`` can be captured; settings may override it."""
    days = settings.PAYMENTS_AUTHORIZATION_DAYS.get(method, METHODS[method].authorization_days)
    return timedelta(days=days)


def is_paid_at_order(method: str) -> bool:
    return METHODS[method].capture == "immediate"
