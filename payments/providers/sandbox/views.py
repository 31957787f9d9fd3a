"""The sandbox's hosted card page: the shop's views never see what is typed here."""

import contextlib

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from payments.methods import METHODS, is_paid_at_order
from payments.providers.sandbox import gateway
from payments.providers.sandbox.forms import CardForm
from payments.providers.sandbox.models import SandboxCardSession
from payments.providers.sandbox.testcards import TEST_CARDS


def _sandbox_only() -> None:
    """The sandbox's pages exist only while it is the shop's provider (never in production)."""
    if settings.PAYMENTS_PROVIDER != "sandbox":
        raise Http404


@never_cache
@sensitive_post_parameters("number", "security_code", "expiry")
@sensitive_variables("form")
@require_http_methods(["GET", "POST"])
def card_form(request: HttpRequest, session_id: str) -> HttpResponse:
    _sandbox_only()
    session = gateway.session_get(session_id)
    if session is None:
        raise Http404(_("This payment page does not exist."))
    if session.status != SandboxCardSession.Status.OPEN:
        return _back_to_shop(session)
    with translation.override(session.language):
        if METHODS[session.method].page in ("wallet", "approval"):
            return _wallet_sheet(request, session)
        return _card_form(request, session)


def _wallet_sheet(request: HttpRequest, session: SandboxCardSession) -> HttpResponse:
    """The phone's payment sheet, or PayPal's or Alipay's page: the shopper approves there.

    No card details are typed or sent to the shop.
    """
    if request.method == "POST":
        if request.POST.get("outcome") == "pay":
            # Sent twice (double click): the first one completed it.
            with contextlib.suppress(gateway.SandboxError):
                gateway.session_complete_wallet(session_id=session.id)
            return _back_to_shop(session)
        return HttpResponseRedirect(session.cancel_url)
    return render(
        request,
        "sandbox/wallet_sheet.html",
        {
            "session": session,
            "card": gateway.WALLET_CARD,
            "wallet": METHODS[session.method],
            "paid_now": is_paid_at_order(session.method),
            "merchant": settings.SHOP_COMPANY["trade_name"],
        },
    )


@sensitive_variables("form")
def _card_form(request: HttpRequest, session: SandboxCardSession) -> HttpResponse:

    form = CardForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        month, year = form.cleaned_data["expiry"]
        try:
            gateway.session_complete(
                session_id=session.id,
                number=form.cleaned_data["number"],
                brand=form.brand,
                exp_month=month,
                exp_year=year,
            )
        except gateway.SandboxError as exc:
            if exc.code == "not_a_test_card":
                error = _("This is test mode: only the test cards below work.")
            else:
                return _back_to_shop(session)
        else:
            return _back_to_shop(session)
    return render(
        request,
        "sandbox/card_form.html",
        {
            "session": session,
            "form": form,
            "error": error,
            "test_cards": TEST_CARDS.values(),
            "merchant": settings.SHOP_COMPANY["trade_name"],
        },
        status=200 if error is None and not form.errors else 422,
    )


def _back_to_shop(session: SandboxCardSession) -> HttpResponse:
    separator = "&" if "?" in session.return_url else "?"
    return HttpResponseRedirect(
        session.return_url + separator + urlencode({"session_id": session.id})
    )


CHALLENGE_OUTCOMES = ("approve", "fail", "abandon")


@never_cache
@require_http_methods(["GET", "POST"])
def challenge(request: HttpRequest, charge_id: str) -> HttpResponse:
    _sandbox_only()
    """The issuing bank's 3-D Secure page, as the sandbox plays it."""
    charge = gateway.challenge_get(charge_id)
    if charge is None:
        raise Http404(_("This payment page does not exist."))
    with translation.override(gateway.charge_language(charge)):
        return _challenge(request, charge)


def _challenge(request: HttpRequest, charge) -> HttpResponse:
    if request.method == "POST":
        outcome = request.POST.get("outcome", "")
        if outcome not in CHALLENGE_OUTCOMES:
            return render(
                request,
                "sandbox/challenge.html",
                {"charge": charge, "error": _("Choose one of the buttons.")},
                status=422,
            )
        gateway.challenge_complete(charge_id=charge.id, outcome=outcome)
        return HttpResponseRedirect(charge.return_url)
    if charge.status != "requires_action":
        return HttpResponseRedirect(charge.return_url)
    return render(request, "sandbox/challenge.html", {"charge": charge})
