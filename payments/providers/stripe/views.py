"""The shop's two Stripe pages: the Payment Element, and the next action (3-D Secure, redirects).

Both are reached through signed links made by the provider; only the
publishable key and, on the next-action page, the PaymentIntent's client
secret reach the browser. Card numbers and security codes go from Stripe's
frames to Stripe, never to the shop.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from payments.exceptions import PaymentError
from payments.methods import METHODS
from payments.providers.stripe.provider import (
    ACTION_SALT,
    PAYMENT_METHOD_TYPE,
    SESSION_MAX_AGE,
    SESSION_SALT,
    StripeProvider,
    capture_method_for,
)

STRIPE_JS = "https://js.stripe.com/v3/"


def _stripe_only() -> None:
    if settings.PAYMENTS_PROVIDER != "stripe":
        raise Http404


def _expired(request: HttpRequest) -> HttpResponse:
    return render(request, "payments/stripe/expired.html", status=400)


@never_cache
@require_GET
def payment_form(request: HttpRequest) -> HttpResponse:
    """The Payment Element for the method chosen at checkout; it returns a ConfirmationToken."""
    _stripe_only()
    try:
        session = signing.loads(
            request.GET.get("s", ""), salt=SESSION_SALT, max_age=SESSION_MAX_AGE
        )
    except signing.BadSignature:
        return _expired(request)
    method = session["method"]
    with translation.override(session["language"]):
        return render(
            request,
            "payments/stripe/payment_form.html",
            {
                "stripe_js": STRIPE_JS,
                "method": METHODS[method],
                "options": {
                    "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
                    "locale": session["language"],
                    "amount": session["amount"],
                    "currency": session["currency"],
                    "captureMethod": capture_method_for(method),
                    "allowedPaymentMethodTypes": [PAYMENT_METHOD_TYPE[method]],
                    "wallet": method if METHODS[method].page == "wallet" else "",
                    "returnUrl": session["return"],
                },
                "cancel_url": session["cancel"],
            },
        )


@never_cache
@require_GET
def next_action(request: HttpRequest) -> HttpResponse:
    """Stripe.js finishes the PaymentIntent's next action, then the shopper goes back to the shop.

    The shop reads the outcome from the PaymentIntent on the server when the
    shopper comes back (and from the webhooks), never from the return URL.
    """
    _stripe_only()
    try:
        action = signing.loads(request.GET.get("t", ""), salt=ACTION_SALT, max_age=SESSION_MAX_AGE)
    except signing.BadSignature:
        return _expired(request)
    try:
        status, client_secret, redirect_url = StripeProvider().client_secret(action["pi"])
    except PaymentError:
        return HttpResponseRedirect(action["return"])  # the return page says what happened
    if status != "requires_action":
        return HttpResponseRedirect(action["return"])
    # The shopper's language is the one of the shop page they come back to.
    language = translation.get_language_from_path(urlsplit(action["return"]).path)
    with translation.override(language or settings.LANGUAGE_CODE):
        return render(
            request,
            "payments/stripe/next_action.html",
            {
                "stripe_js": STRIPE_JS,
                "options": {
                    "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
                    "clientSecret": client_secret,
                    "returnUrl": action["return"],
                },
                "redirect_url": redirect_url,
                "return_url": action["return"],
            },
        )
