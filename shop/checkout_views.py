"""Checkout: details, shipping, payment, review and place order, then confirmation.

Placing the order spans both sides (``orders`` places it, ``payments``
authorizes it): the views call the checkout service, ``shop.checkout.services``,
and the payments services for the re-authorization link; they decide no rule.
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

from orders.exceptions import OutOfStock
from orders.models import Order
from orders.selectors import order_get_with_lines
from orders.services import CustomerDetails
from orders.shipping import SHIPPING_METHODS
from payments.emails import reauthorize_signature_valid
from payments.exceptions import PaymentError, ProviderUnavailable
from payments.messages import payment_failure_message
from payments.methods import METHODS, methods_offered
from payments.models import PaymentStatus
from payments.providers.base import CardDetails
from payments.selectors import payment_latest_for_order
from payments.services import (
    payment_card_session_read,
    payment_card_session_start,
    payment_complete_authentication,
    payment_reauthorization,
    payment_reauthorize,
)
from shop.cart import Cart
from shop.checkout.services import (
    PaymentChoice,
    checkout_complete_authentication,
    checkout_is_placed,
    checkout_place_order,
    checkout_placed_order,
)
from shop.checkout.state import CheckoutState
from shop.forms import CustomerDetailsForm, ShippingMethodForm


def _steps(current: str) -> list[dict]:
    names = [
        ("details", _("Details")),
        ("shipping", _("Delivery")),
        ("payment", _("Payment")),
        ("review", _("Review")),
    ]
    index = [code for code, _label in names].index(current)
    return [
        {"code": code, "label": label, "number": i + 1, "done": i < index, "current": i == index}
        for i, (code, label) in enumerate(names)
    ]


def _context(request: HttpRequest, step: str, basket: Cart, **extra) -> dict:
    state = CheckoutState(request.session)
    cart = basket.summary()
    method = SHIPPING_METHODS.get(state.shipping_method or "")
    shipping_amount = method.price_amount if method else None
    return {
        "steps": _steps(step),
        "cart": cart,
        "state": state,
        "shipping_method": method,
        "shipping_amount": shipping_amount,
        "total_amount": cart.subtotal_amount + (shipping_amount or 0),
        **extra,
    }


def _guard(request: HttpRequest, step: str) -> tuple[Cart | None, HttpResponse | None]:
    """The cart, or a redirect to where the shopper must go first.

    A form sent to the details, delivery or review step only needs the cart's
    quantities, from the session (placing the order re-checks every item);
    otherwise its lines (one query) are read here, once per request.
    """
    cart = Cart(request.session)
    session_only = request.method == "POST" and step != "payment"
    if cart.is_empty() if session_only else cart.summary().is_empty:
        messages.info(request, _("Your cart is empty."))
        return None, redirect("shop:cart")
    order = ["details", "shipping", "payment", "review"]
    missing = CheckoutState(request.session).first_missing_step()
    if missing and order.index(missing) < order.index(step):
        return None, redirect(f"shop:checkout_{missing}")
    return cart, None


@never_cache
@require_http_methods(["GET", "POST"])
def checkout_details(request: HttpRequest) -> HttpResponse:
    cart, response = _guard(request, "details")
    if response:
        return response
    state = CheckoutState(request.session)
    form = CustomerDetailsForm(request.POST or None, initial=state.customer)
    if request.method == "POST" and form.is_valid():
        state.set_customer(form.cleaned_data)
        return redirect("shop:checkout_shipping")
    return render(
        request,
        "shop/checkout/details.html",
        _context(request, "details", cart, form=form),
        status=422 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def checkout_shipping(request: HttpRequest) -> HttpResponse:
    cart, response = _guard(request, "shipping")
    if response:
        return response
    state = CheckoutState(request.session)
    form = ShippingMethodForm(
        request.POST or None, initial={"shipping_method": state.shipping_method or "standard"}
    )
    if request.method == "POST" and form.is_valid():
        state.set_shipping_method(form.cleaned_data["shipping_method"])
        return redirect("shop:checkout_payment")
    return render(
        request,
        "shop/checkout/shipping.html",
        _context(request, "shipping", cart, form=form),
        status=422 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def checkout_payment(request: HttpRequest) -> HttpResponse:
    cart, response = _guard(request, "payment")
    if response:
        return response
    offered = methods_offered(request.headers.get("User-Agent", ""))
    context = _context(request, "payment", cart, methods=offered)
    if request.method == "POST":
        method = request.POST.get("method", "card")
        if method not in {spec.code for spec in offered}:
            messages.error(request, _("Choose one of the payment methods offered."))
            return render(request, "shop/checkout/payment.html", context, status=422)
        session = payment_card_session_start(
            amount=context["total_amount"],
            currency=context["cart"].currency,
            return_url=request.build_absolute_uri(reverse("shop:checkout_payment_return")),
            cancel_url=request.build_absolute_uri(reverse("shop:checkout_payment"))
            + "?cancelled=1",
            language=get_language(),
            method=method,
        )
        return redirect(session.redirect_url)
    if request.GET.get("cancelled"):
        messages.info(
            request, _("The payment was cancelled and nothing was charged. Your cart is kept.")
        )
    return render(request, "shop/checkout/payment.html", context)


@never_cache
@require_GET
def checkout_payment_return(request: HttpRequest) -> HttpResponse:
    """Back from the provider's card form: read the result from the provider itself."""
    try:
        completed = payment_card_session_read(session_id=request.GET.get("session_id", ""))
    except PaymentError as error:
        messages.error(request, payment_failure_message(error.code))
        return redirect("shop:checkout_payment")
    if completed is None:
        messages.error(request, _("The card details were not received. Please enter them again."))
        return redirect("shop:checkout_payment")
    card = completed.card
    CheckoutState(request.session).set_payment(
        {
            "session_id": completed.session_id,
            "method": completed.method,
            "method_label": str(METHODS[completed.method].label),
            "token": completed.payment_token,
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        }
    )
    return redirect("shop:checkout_review")


@never_cache
@require_http_methods(["GET", "POST"])
def checkout_review(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        placed = _already_placed(request)
        if placed:
            return placed
    cart, response = _guard(request, "review")
    if response:
        return response
    state = CheckoutState(request.session)
    if request.method == "POST":
        return _place_order(request, state, cart)
    problems = [line for line in cart.summary().lines if line.exceeds_stock]
    return render(
        request,
        "shop/checkout/review.html",
        _context(request, "review", cart, stock_problems=problems),
    )


def _already_placed(request: HttpRequest) -> HttpResponse | None:
    """The form was sent again after its order was placed: show that order."""
    try:
        token = uuid.UUID(request.POST.get("checkout_token", ""))
    except ValueError:
        return None
    order = checkout_placed_order(checkout_token=token)
    state = CheckoutState(request.session)
    if order is not None and state.placed(order.token):
        return redirect("shop:order_confirmation", token=order.token)
    return None


def _place_order(request: HttpRequest, state: CheckoutState, cart: Cart) -> HttpResponse:
    if request.POST.get("checkout_token") != str(state.token):
        messages.error(request, _("Your order changed in another tab: please check it again."))
        return redirect("shop:checkout_review")
    card = state.payment
    try:
        outcome = checkout_place_order(
            checkout_token=state.token,
            quantities=cart.quantities(),
            customer=CustomerDetails(**state.customer),
            shipping_method=state.shipping_method,
            language=get_language(),
            payment=PaymentChoice(
                method=card.get("method", "card"),
                payment_token=card["token"],
                card=CardDetails(
                    brand=card["brand"],
                    last4=card["last4"],
                    exp_month=card["exp_month"],
                    exp_year=card["exp_year"],
                ),
            ),
            return_url=request.build_absolute_uri(reverse("shop:checkout_authentication_return")),
        )
    except OutOfStock as error:
        messages.error(request, str(error))
        return redirect("shop:cart")
    except ProviderUnavailable:
        # Unknown outcome: keep this attempt; sending the form again asks with the same key.
        messages.error(request, payment_failure_message("provider_unavailable"))
        return redirect("shop:checkout_review")
    except PaymentError as error:
        return _payment_failed(request, state, error.code)
    if outcome.action_url:  # 3-D Secure: the bank's page first
        return redirect(outcome.action_url)
    return _after_authorization(request, state, outcome.order)


def _after_authorization(request: HttpRequest, state: CheckoutState, order: Order) -> HttpResponse:
    if checkout_is_placed(order):
        Cart(request.session).clear()
        state.finish(order.token)
        return redirect("shop:order_confirmation", token=order.token)
    # This checkout attempt's order was declined before: start a fresh one.
    return _payment_failed(request, state, "declined")


@never_cache
@require_GET
def checkout_authentication_return(request: HttpRequest) -> HttpResponse:
    """Back from the bank's 3-D Secure page: ask the provider how it went."""
    state = CheckoutState(request.session)
    try:
        order = checkout_complete_authentication(checkout_token=state.token)
    except ProviderUnavailable:
        messages.error(request, payment_failure_message("provider_unavailable"))
        return redirect("shop:checkout_review")
    except PaymentError as error:
        return _payment_failed(request, state, error.code)
    if order is None:
        messages.error(request, _("Your checkout has expired. Please try again."))
        return redirect("shop:cart")
    return _after_authorization(request, state, order)


def _payment_failed(request: HttpRequest, state: CheckoutState, code: str) -> HttpResponse:
    state.renew_token()
    state.clear_payment()
    messages.error(request, payment_failure_message(code))
    return redirect("shop:checkout_payment")


@never_cache
@require_GET
def order_confirmation(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    state = CheckoutState(request.session)
    order = order_get_with_lines(token=token) if state.placed(token) else None
    if order is None:
        raise Http404(_("No such order in this browser."))
    return render(
        request,
        "shop/order_confirmation.html",
        {"order": order, "payment": payment_latest_for_order(order_id=order.pk)},
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
        completed = payment_card_session_read(session_id=request.GET.get("session_id", ""))
    except PaymentError as error:
        messages.error(request, payment_failure_message(error.code))
        return redirect(back)
    if completed is None:
        messages.error(request, _("The card details were not received. Please enter them again."))
        return redirect(back)
    try:
        payment = payment_reauthorize(
            order_id=order.pk,
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
