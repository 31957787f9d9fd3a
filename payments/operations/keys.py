"""Every idempotency key, built in one place (and read back in one place).

A key names the business operation, never the attempt: a retry, a second
worker or a replayed webhook derives the same key, so the provider answers it
once and the ledger accepts one success for it. Customer e-mails are keyed the
same way, so each event sends one e-mail.
"""

import re


def authorize(payment_id: int) -> str:
    """The authorization of one payment (also sent to the provider as metadata)."""
    return f"{AUTHORIZE_PREFIX}{payment_id}"


AUTHORIZE_PREFIX = "authorize-payment-"


def payment_id_of_authorization(key: str) -> int | None:
    """The payment an authorization key names; ``None`` for any other string."""
    if key.startswith(AUTHORIZE_PREFIX) and re.fullmatch(
        r"[0-9]{1,18}", key[len(AUTHORIZE_PREFIX) :]
    ):
        return int(key[len(AUTHORIZE_PREFIX) :])
    return None


def capture_at_order(payment_id: int) -> str:
    """A method with no separate capture (Alipay): taken with the authorization."""
    return f"capture-at-order-payment-{payment_id}"


def capture(shipment_id: int, payment_id: int) -> str:
    """The capture of one parcel on one authorization."""
    return f"capture-shipment-{shipment_id}-payment-{payment_id}"


def capture_retry(key: str, failure_id: int) -> str:
    """A capture the provider refused, asked again under a new key after that failure."""
    return f"{key}-retry-{failure_id}"


def void(payment_id: int) -> str:
    """The release of what is left of an authorization (order cancelled)."""
    return f"void-payment-{payment_id}"


def void_abandoned(payment_id: int) -> str:
    """The cancellation of an authorization whose shopper never finished 3-D Secure."""
    return f"void-abandoned-payment-{payment_id}"


def refund(request_token: str) -> str:
    """A refund staff asked for, named by its form's one-time token."""
    return f"refund-{request_token}"


def refund_cancellation(order_id: int) -> str:
    """What an order paid at once (Alipay) will not ship, refunded when it is cancelled."""
    return f"refund-cancellation-order-{order_id}"


def refund_external(provider_reference: str) -> str:
    """A refund made in the provider's dashboard, recorded when its webhook arrives."""
    return f"external-refund-{provider_reference}"


def approve_review(payment_id: int) -> str:
    """Staff's approval of a payment held by the provider's fraud review."""
    return f"approve-review-payment-{payment_id}"


def expire(payment_id: int) -> str:
    """The lapse of an authorization."""
    return f"expire-payment-{payment_id}"


def email_for(kind: str, key: str) -> str:
    """The customer e-mail a successful operation sends, one per operation."""
    return f"{kind}-{key}"


def email_placed(order_id: int) -> str:
    """The e-mail sent when an order is placed (confirmed, or paid at once)."""
    return f"placed-order-{order_id}"


def email_in_review(payment_id: int) -> str:
    return f"in-review-payment-{payment_id}"


def email_reauthorize(payment_id: int) -> str:
    return f"reauthorize-payment-{payment_id}"


SHIPPED_PAID_PREFIX = "shipped-paid-shipment-"


def email_shipped_paid(shipment_id: int) -> str:
    return f"{SHIPPED_PAID_PREFIX}{shipment_id}"


def shipment_id_of_shipped_paid(key: str) -> int | None:
    """The parcel a shipped-and-paid e-mail's key names; ``None`` for any other key."""
    rest = key.removeprefix(SHIPPED_PAID_PREFIX)
    return int(rest) if rest != key and rest.isascii() and rest.isdigit() else None


def email_resend(key: str, request_token: str) -> str:
    """Staff's resend of an e-mail, named by its form's one-time token."""
    return f"resend-{request_token}-{key}"[:128]
