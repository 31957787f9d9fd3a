"""Checkout: details, shipping, payment, review and place order, then confirmation.

Placing the order spans both sides (``orders`` places it, ``payments``
authorizes it): the views call the checkout service, ``shop.checkout.services``,
and the payments services for the re-authorization link; they decide no rule.
"""

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from orders.exceptions import OutOfStock
from orders.models import Country, Order
from orders.services import CustomerDetails
from orders.shipping import DEFAULT_SHIPPING_METHOD, SHIPPING_METHODS
from payments.exceptions import PaymentError, ProviderUnavailable
from payments.messages import payment_failure_message
from payments.methods import METHODS, methods_offered
from payments.providers.base import CardDetails
from payments.services import (
    payment_card_session_read,
    payment_card_session_start,
    payment_card_session_transfer,
)
from shop.cart import Cart
from shop.checkout.limits import TooManyAttempts, attempt_identity
from shop.checkout.services import (
    NOT_READ,
    PaymentChoice,
    PaymentChoiceChanged,
    checkout_complete_authentication,
    checkout_is_placed,
    checkout_order,
    checkout_payment_replaced,
    checkout_place_order,
)
from shop.checkout.state import CheckoutState
from shop.forms import CustomerDetailsForm, ShippingMethodForm
from shop.money import format_money
from shop.payment_words import method_words


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


def _context(
    request: HttpRequest, step: str, basket: Cart, shipping_code: str = "", **extra
) -> dict:
    state = CheckoutState(request.session)
    cart = basket.summary()
    method = SHIPPING_METHODS.get(shipping_code or state.shipping_method or "")
    shipping_amount = method.price_amount if method else None
    total_amount = cart.subtotal_amount + (shipping_amount or 0)
    customer = state.customer or {}
    payment = state.payment or {}
    return {
        "steps": _steps(step),
        "cart": cart,
        "state": state,
        "shipping_method": method,
        "shipping_amount": shipping_amount,
        "total_amount": total_amount,
        "country_name": Country(customer["country"]).label
        if customer.get("country") in Country.values
        else customer.get("country", ""),
        "payment_words": method_words(
            payment.get("method", "card"), total=format_money(total_amount, cart.currency)
        ),
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
    # The summary's total includes the delivery the form shows as chosen.
    chosen = state.shipping_method or DEFAULT_SHIPPING_METHOD
    return render(
        request,
        "shop/checkout/shipping.html",
        _context(request, "shipping", cart, shipping_code=chosen, form=form),
        status=422 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def checkout_payment(request: HttpRequest) -> HttpResponse:
    cart, response = _guard(request, "payment")
    if response:
        return response
    offered = methods_offered(request.headers.get("User-Agent", ""))
    again = bool(CheckoutState(request.session).payment)
    context = _context(
        request,
        "payment",
        cart,
        methods=offered,
        choices=[(spec, method_words(spec.code, again=again)) for spec in offered],
    )
    if request.method == "POST":
        method = request.POST.get("method", "card")
        if method not in {spec.code for spec in offered}:
            messages.error(request, _("Choose one of the payment methods offered."))
            return render(request, "shop/checkout/payment.html", context, status=422)
        session = payment_card_session_start(
            reference=str(CheckoutState(request.session).token),
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
    state = CheckoutState(request.session)
    try:
        completed = payment_card_session_read(
            reference=str(state.token), session_id=request.GET.get("session_id", "")
        )
    except PaymentError as error:
        messages.error(request, payment_failure_message(error.code))
        return redirect("shop:checkout_payment")
    if completed is None:
        messages.error(request, _("The card details were not received. Please enter them again."))
        return redirect("shop:checkout_payment")
    card = completed.card
    # A new choice ends any authorization left waiting (3-D Secure after Back);
    # if this attempt had placed an order, Place order starts a new one, and
    # the card session this checkout claimed follows it to the new token. Only
    # a token sent with Place order can have an order (looked up only then);
    # Place order itself still refuses to resume another card's authorization.
    if state.submitted and checkout_payment_replaced(checkout_token=state.token):
        previous = str(state.token)
        state.renew_token()
        payment_card_session_transfer(
            from_reference=previous,
            to_reference=str(state.token),
            payment_token=completed.payment_token,
        )
    state.set_payment(
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
        placed, existing = _already_placed(request)
        if placed:
            return placed
    cart, response = _guard(request, "review")
    if response:
        return response
    state = CheckoutState(request.session)
    if request.method == "POST":
        return _place_order(request, state, cart, existing)
    problems = [line for line in cart.summary().lines if line.exceeds_stock]
    return render(
        request,
        "shop/checkout/review.html",
        _context(request, "review", cart, stock_problems=problems),
    )


def _already_placed(request: HttpRequest) -> tuple[HttpResponse | None, object]:
    """The form was sent again after its order was placed: show that order.

    Also returns the order of the token sent (or ``None``), for placing it
    without reading it again; ``NOT_READ`` when the token is not a UUID.
    """
    try:
        token = uuid.UUID(request.POST.get("checkout_token", ""))
    except ValueError:
        return None, NOT_READ
    order = checkout_order(checkout_token=token)
    state = CheckoutState(request.session)
    if order is not None and checkout_is_placed(order) and state.placed(order.token):
        return redirect("shop:order_confirmation", token=order.token), order
    return None, order


def _place_order(
    request: HttpRequest, state: CheckoutState, cart: Cart, existing: object
) -> HttpResponse:
    sent = request.POST.get("checkout_token", "")
    if sent != str(state.token):
        if state.was_token(sent):
            messages.error(request, _("Your order changed in another tab: please check it again."))
        else:
            messages.error(
                request,
                _(
                    "This form could not be verified, so nothing was ordered. "
                    "Please check your order and place it again."
                ),
            )
        return redirect("shop:checkout_review")
    card = state.payment
    state.mark_submitted()
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
            identity=attempt_identity(request, state),
            existing=existing,  # read for the token sent, which is the checkout's (above)
        )
    except TooManyAttempts as error:
        return _too_many_attempts(request, error)
    except OutOfStock as error:
        messages.error(request, str(error))
        return redirect("shop:cart")
    except PaymentChoiceChanged:
        previous = str(state.token)
        state.renew_token()
        payment_card_session_transfer(
            from_reference=previous, to_reference=str(state.token), payment_token=card["token"]
        )
        messages.error(
            request,
            _(
                "Your payment choice changed: nothing was charged. Please check it and place the order again."
            ),
        )
        return redirect("shop:checkout_review")
    except ProviderUnavailable:
        # Unknown outcome: keep this attempt; sending the form again asks with the same key.
        messages.error(request, payment_failure_message("provider_unavailable"))
        return redirect("shop:checkout_review")
    except PaymentError as error:
        return _payment_failed(request, state, error.code)
    if outcome.action_url:  # 3-D Secure: the bank's page first
        return redirect(outcome.action_url)
    return _after_authorization(request, state, outcome.order)


def _too_many_attempts(request: HttpRequest, error: TooManyAttempts) -> HttpResponse:
    """Refused before anything was placed or sent: say so, and when to try again (429)."""
    messages.error(request, error.user_message())
    context = _context(request, "review", Cart(request.session))
    response = render(request, "shop/checkout/review.html", context, status=429)
    response["Retry-After"] = str(error.retry_after)
    return response


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
