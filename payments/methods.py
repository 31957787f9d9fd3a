"""Payment methods as data: when money moves and how long a hold lasts.

Checkout, providers and e-mails read this table; nothing else decides it.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings


@dataclass(frozen=True)
class MethodSpec:
    code: str
    # "manual": authorized at order, captured at shipment.
    # "immediate": paid at order; nothing to capture later (cancelling refunds).
    capture: str
    authorization_days: int


METHODS: dict[str, MethodSpec] = {
    spec.code: spec
    for spec in (
        # Card networks hold online card authorizations for about 7 days.
        MethodSpec("card", capture="manual", authorization_days=7),
    )
}


def authorization_validity(method: str) -> timedelta:
    """How long an authorization of ``method`` can be captured; settings may override it."""
    days = settings.PAYMENTS_AUTHORIZATION_DAYS.get(method, METHODS[method].authorization_days)
    return timedelta(days=days)
