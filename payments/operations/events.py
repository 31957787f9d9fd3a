"""Payment events: one structured log line per call to the provider.

Every provider call of a money move goes through ``provider_call`` (the
engine's ``Operation.run`` for capture, void, refund and review approval; the
authorization for the hold and its 3-D Secure outcome), so the line is written
in one place with the same fields: order number, payment id, operation,
idempotency key, outcome, error code, provider reference and duration.
``shop/logs.py`` adds the request id and writes it as JSON with ``DEBUG`` off.
"""

import logging
import time
from collections.abc import Callable

from orders.models import Order
from payments.exceptions import PaymentDeclined, PaymentError, ProviderUnavailable
from payments.models import Payment

event_logger = logging.getLogger("payments.events")


def provider_call[T](
    call: Callable[[], T], *, payment: Payment, operation: str, key: str, order_number: str = ""
) -> T:
    """Call the provider (no lock held) and log the event.

    Never a card number, security code, token or secret: only the fields above.
    """
    started, outcome, code, reference = (
        time.monotonic(),
        "succeeded",
        "",
        payment.provider_reference,
    )
    try:
        result = call()
        reference = getattr(result, "provider_reference", "") or reference
        if getattr(result, "action_url", ""):
            outcome = "requires_action"
        return result
    except PaymentError as error:
        code = error.code
        outcome = (
            "declined"
            if isinstance(error, PaymentDeclined)
            else "unavailable"
            if isinstance(error, ProviderUnavailable)
            else "refused"
        )
        raise
    finally:
        fields = {
            "order_number": order_number
            or Order.objects.filter(pk=payment.order_id).values_list("number", flat=True).first(),
            "payment_id": payment.pk,
            "operation": operation,
            "idempotency_key": key,
            "outcome": outcome,
            "error_code": code,
            "provider_reference": reference,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        }
        event_logger.info("payment %s %s", operation, outcome, extra={"event": fields})
