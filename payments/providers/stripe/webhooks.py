"""Stripe's webhook endpoint: verify, store once, answer at once; the worker does the rest.

The signature is checked on the raw body (400 when it fails or is older
than ``STRIPE_WEBHOOK_TOLERANCE_SECONDS``); the event is stored by its id,
so a delivery repeated by Stripe changes nothing; its handler runs in the
worker and reads the PaymentIntent's current state, so events may arrive in
any order.
"""

import json
import logging

import stripe
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.operations.provider_events import payment_event_record, payment_event_storable
from payments.providers.base import ProviderNotice

logger = logging.getLogger(__name__)


def _payment_intent(obj: dict) -> str:
    """The PaymentIntent a PaymentIntent, Charge, Refund, Review or Dispute belongs to."""
    if obj.get("object") == "payment_intent":
        return obj.get("id") or ""
    reference = obj.get("payment_intent") or ""
    return reference if isinstance(reference, str) else reference.get("id", "")


def _notice(obj: dict) -> ProviderNotice:
    metadata = (obj.get("metadata") if obj.get("object") == "payment_intent" else None) or {}
    operation = metadata.get("operation", "")
    return ProviderNotice(
        provider_reference=_payment_intent(obj),
        operation=operation if isinstance(operation, str) else "",
    )


# Every event the endpoint subscribes to, and how to read which payment it is about;
# each then brings that payment in line with Stripe.
EVENTS = {
    "payment_intent.amount_capturable_updated": _notice,
    "payment_intent.succeeded": _notice,
    "payment_intent.payment_failed": _notice,
    "payment_intent.canceled": _notice,
    "charge.expired": _notice,
    "charge.refunded": _notice,
    "refund.updated": _notice,  # a refund in progress finished (or failed)
    "review.opened": _notice,
    "review.closed": _notice,
    "charge.dispute.created": _notice,
}


def read_event(event_type: str, payload: dict) -> ProviderNotice | None:
    """A stored Stripe event as a typed notice; ``None`` for a type the shop does not handle."""
    reader = EVENTS.get(event_type)
    return reader(payload["data"]["object"]) if reader else None


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    if settings.PAYMENTS_PROVIDER != "stripe":
        raise Http404
    payload = request.body
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            request.headers.get("Stripe-Signature", ""),
            settings.STRIPE_WEBHOOK_SECRET,
            settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
        event = json.loads(payload)
        event_id, event_type, obj = event["id"], event["type"], event["data"]["object"]
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as error:
        logger.warning("Stripe webhook refused: %s", error)
        return HttpResponseBadRequest("Invalid signature.")
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest("Invalid event.")
    if not (isinstance(event_id, str) and isinstance(event_type, str) and isinstance(obj, dict)):
        return HttpResponseBadRequest("Invalid event.")
    if not payment_event_storable(event_id=event_id, event_type=event_type, payload=event):
        return HttpResponseBadRequest("Invalid event.")
    created = payment_event_record(
        provider="stripe", event_id=event_id, event_type=event_type, payload=event
    )
    return JsonResponse({"received": True, "duplicate": not created})
