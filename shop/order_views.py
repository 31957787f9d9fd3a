"""The pages after the checkout: the order's page, re-authorization, "find my order",
and how payment works.

The order's page opens for the browser that placed it, or with the signed
link every e-mail carries; re-authorization with the link e-mailed when a
hold lapsed. Views call services only.
"""

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from orders.links import order_page_path, order_page_signature_valid
from orders.models import Order
from payments.emails import reauthorize_signature_valid
from payments.exceptions import PaymentError
from payments.messages import payment_failure_message
from payments.methods import CARD_BRANDS, METHODS
from payments.models import PaymentStatus
from payments.selectors import payment_latest_for_order
from payments.services import (
    payment_card_session_read,
    payment_card_session_start,
    payment_complete_authentication,
    payment_reauthorization,
    payment_reauthorize,
)
from shop.checkout.state import CheckoutState
from shop.find_order import find_order_allowed, order_link_send
from shop.forms import FindOrderForm
from shop.order_page import order_page_get, order_payment, order_timeline
from shop.payment_words import method_words


@never_cache
@require_http_methods(["GET", "POST"])
def find_order(request: HttpRequest) -> HttpResponse:
    """E-mail + order number: the link to the order's page goes to that address."""
    form = FindOrderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        if not find_order_allowed(email=email, client_ip=request.META.get("REMOTE_ADDR", "")):
            messages.error(
                request,
                _("Too many requests for now. Please try again in an hour, or contact us."),
            )
            return render(request, "shop/find_order.html", {"form": form}, status=429)
        order_link_send(email=email, number=form.cleaned_data["number"])
        messages.success(
            request,
            _(
                "If an order with this number was placed with this address, we have just "
                "e-mailed it the link to the order's page. It may take a few minutes to arrive."
            ),
        )
        return redirect("shop:find_order")
    return render(
        request, "shop/find_order.html", {"form": form}, status=422 if form.errors else 200
    )


@require_GET
def payment_information(request: HttpRequest) -> HttpResponse:
    """How payment works, from ``payments/methods.py``: it cannot say what the shop does not do."""
    methods = [(spec, method_words(spec.code)) for spec in METHODS.values()]
    return render(
        request,
        "shop/payment_information.html",
        {
            "card_brands": CARD_BRANDS,
            "methods": methods,
            "wallets": [(spec, words) for spec, words in methods if spec.page == "wallet"],
        },
    )


@never_cache
@require_GET
def order_confirmation(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    """The order's page: for the browser that placed it, or anyone with its signed link.

    Without either it is a 404, the same as for an order that does not exist.
    """
    placed_here = CheckoutState(request.session).placed(token)
    allowed = placed_here or order_page_signature_valid(str(token), request.GET.get("sig", ""))
    order = order_page_get(token=token) if allowed else None
    if order is None:
        raise Http404(_("No such order."))
    return render(
        request,
        "shop/order_confirmation.html",
        {
            "order": order,
            "payment": order_payment(order),
            "timeline": order_timeline(order),
            "placed_here": placed_here,
            "order_page_url": request.build_absolute_uri(order_page_path(order)),
        },
    )


def _link(request: HttpRequest, token: uuid.UUID) -> tuple[Order, str, str]:
    """The order a signed re-authorization link names, its signature, and its page."""
    signature = request.GET.get("sig", "")
    order = _order_for_link(token, signature)
    back = (
        reverse("shop:order_reauthorize", kwargs={"token": order.token})
        + "?"
        + urlencode({"sig": signature})
    )
    return order, signature, back


def _order_for_link(token: uuid.UUID, signature: str):
    order = Order.objects.filter(token=token).first()
    if order is None or not reauthorize_signature_valid(order, signature):
        raise Http404(_("This link is not valid any more. Please contact us."))
    return order


def _reauthorization_reference(order: Order) -> str:
    """What a re-authorization's card session is bound to (the link is signed per order)."""
    return f"reauthorize-{order.token}"


@never_cache
@require_http_methods(["GET", "POST"])
def order_reauthorize(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    """The link e-mailed when an authorization lapsed: authorize what is left, again."""
    signature = request.GET.get("sig", "")
    order = _order_for_link(token, signature)
    reauthorization = payment_reauthorization(order=order)
    outstanding, needed = reauthorization.outstanding, reauthorization.needed
    if request.method == "POST" and needed:
        query = "?" + urlencode({"sig": signature})
        session = payment_card_session_start(
            reference=_reauthorization_reference(order),
            amount=outstanding,
            currency=order.currency,
            return_url=request.build_absolute_uri(
                reverse("shop:order_reauthorize_return", kwargs={"token": order.token}) + query
            ),
            cancel_url=request.build_absolute_uri(request.path + query),
            language=get_language(),
        )
        return redirect(session.redirect_url)
    return render(
        request,
        "shop/order_reauthorize.html",
        {
            "order": order,
            "outstanding": outstanding,
            "needed": needed,
            "payment": reauthorization.current,
        },
    )


@never_cache
@require_GET
def order_reauthorize_return(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    order, signature, back = _link(request, token)
    try:
        completed = payment_card_session_read(
            reference=_reauthorization_reference(order),
            session_id=request.GET.get("session_id", ""),
        )
    except PaymentError as error:
        messages.error(request, payment_failure_message(error.code))
        return redirect(back)
    if completed is None:
        messages.error(request, _("The card details were not received. Please enter them again."))
        return redirect(back)
    try:
        payment = payment_reauthorize(
            order_id=order.pk,
            reference=_reauthorization_reference(order),
            session=completed,
            return_url=request.build_absolute_uri(
                reverse("shop:order_reauthorize_authentication", kwargs={"token": order.token})
            )
            + "?"
            + urlencode({"sig": signature}),
        )
    except PaymentError as error:
        messages.error(request, payment_failure_message(error.code))
        return redirect(back)
    if payment.action_url:  # 3-D Secure: the bank's page first
        return redirect(payment.action_url)
    return _reauthorized(request, payment, back)


@never_cache
@require_GET
def order_reauthorize_authentication(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    """Back from the bank's 3-D Secure page during a re-authorization."""
    order, _signature, back = _link(request, token)
    payment = payment_latest_for_order(order_id=order.pk)
    if payment is None or not payment.action_url:
        return redirect(back)
    try:
        payment = payment_complete_authentication(payment_id=payment.pk)
    except PaymentError as error:
        messages.error(request, payment_failure_message(error.code))
        return redirect(back)
    return _reauthorized(request, payment, back)


def _reauthorized(request: HttpRequest, payment, back: str) -> HttpResponse:
    if payment.status == PaymentStatus.IN_REVIEW:
        messages.info(
            request,
            _(
                "Thank you: the amount is held on your card again. Our payment partner is "
                "verifying it; we will e-mail you once your order can ship."
            ),
        )
    else:
        messages.success(
            request,
            _("Thank you: the amount is held on your card again, and your order can ship."),
        )
    return redirect(back)
