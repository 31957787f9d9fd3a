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

from payments.models import ProviderEvent
from payments.services import payment_event_record, payment_sync_with_provider

logger = logging.getLogger(__name__)
EVENT_ID_MAX_LENGTH = ProviderEvent._meta.get_field("event_id").max_length
EVENT_TYPE_MAX_LENGTH = ProviderEvent._meta.get_field("type").max_length


def _payment_intent(obj: dict) -> str:
    """The PaymentIntent a PaymentIntent, Charge, Review or Dispute belongs to."""
    if obj.get("object") == "payment_intent":
        return obj.get("id") or ""
    reference = obj.get("payment_intent") or ""
    return reference if isinstance(reference, str) else reference.get("id", "")


def _sync(obj: dict) -> str:
    reference = _payment_intent(obj)
    if not reference:
        return "no PaymentIntent: ignored"
    metadata = obj.get("metadata") if obj.get("object") == "payment_intent" else None
    return payment_sync_with_provider(
        provider="stripe", provider_reference=reference, metadata=metadata
    )


# Every event the endpoint subscribes to; each brings the payment in line with Stripe.
HANDLERS = {
    "payment_intent.amount_capturable_updated": _sync,
    "payment_intent.succeeded": _sync,
    "payment_intent.payment_failed": _sync,
    "payment_intent.canceled": _sync,
    "charge.expired": _sync,
    "charge.refunded": _sync,
    "review.opened": _sync,
    "review.closed": _sync,
    "charge.dispute.created": _sync,
}


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
    # What the event table can hold: ids and types of Stripe's sizes, and no NUL
    # character anywhere (PostgreSQL refuses it in text and JSON).
    if (
        not 0 < len(event_id) <= EVENT_ID_MAX_LENGTH
        or not 0 < len(event_type) <= EVENT_TYPE_MAX_LENGTH
        or "\\u0000" in json.dumps(event)
    ):
        return HttpResponseBadRequest("Invalid event.")
    created = payment_event_record(
        provider="stripe", event_id=event_id, event_type=event_type, payload=event
    )
    return JsonResponse({"received": True, "duplicate": not created})
