"""The order admin's money pages: refund, approve a review, retry captures, resend an
e-mail. Each checks its permission helper first (a forged request gets 403), asks
for confirmation on GET and acts on POST through the services."""

import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from orders.admin_audit import log_staff_action
from orders.models import Order
from payments.admin_actions import approve_review_of, retry_captures_of
from payments.emails import customer_email_resend
from payments.exceptions import PaymentError
from payments.forms import RefundForm
from payments.models import REFUNDABLE_STATUSES, CustomerEmail, Payment
from payments.permissions import can_refund, can_resend_email, can_retry_capture, can_review
from payments.services import payment_request_refund
from shop.money import format_money


def _order_page(order: Order) -> HttpResponse:
    return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))


def _context(model_admin, request: HttpRequest, order: Order, title: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "order": order,
        **extra,
    }


def redirect_to_one(model_admin, request: HttpRequest, queryset: QuerySet[Order], name: str):
    """A list action that works on one order: its page, or a message saying to pick one."""
    orders = list(queryset[:2])
    if len(orders) != 1:
        model_admin.message_user(request, _("Select exactly one order."), messages.WARNING)
        return None
    return HttpResponseRedirect(reverse(name, args=[orders[0].pk]))


def refund_view(model_admin, request: HttpRequest, order_id: int) -> HttpResponse:
    """Ask for an amount, then queue the refund through the service."""
    if not can_refund(request.user):
        raise PermissionDenied
    order = Order.objects.filter(pk=order_id).first()
    payment = (
        Payment.objects.filter(order_id=order_id, status__in=REFUNDABLE_STATUSES)
        .order_by("-created_at")
        .first()
    )
    if order is None or payment is None or payment.refundable_amount <= 0:
        model_admin.message_user(
            request, _("Nothing captured is left to refund."), messages.WARNING
        )
        return HttpResponseRedirect(reverse("admin:orders_order_changelist"))
    form = RefundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        amount = form.cleaned_data["amount"]
        try:
            payment_request_refund(
                payment_id=payment.pk,
                amount=amount,
                request_token=str(form.cleaned_data["request_token"]),
            )
        except PaymentError as error:
            form.add_error("amount", str(error))
        else:
            log_staff_action(request, order, "refund", format_money(amount, payment.currency))
            model_admin.message_user(
                request,
                _(
                    "Order %(number)s: the refund of %(amount)s is queued; the customer "
                    "will be e-mailed once it is done."
                )
                % {"number": order.number, "amount": format_money(amount, payment.currency)},
                messages.SUCCESS,
            )
            return _order_page(order)
    title = _("Refund order %(number)s") % {"number": order.number}
    context = _context(model_admin, request, order, title, payment=payment, form=form)
    return TemplateResponse(request, "admin/payments/refund.html", context)


def _confirmed_action(
    model_admin, request: HttpRequest, order_id: int, *, allowed, act, title: str, template: str
) -> HttpResponse:
    """A staff action with a confirmation page: GET asks, POST does ``act`` and goes back."""
    if not allowed(request.user):
        raise PermissionDenied
    order = get_object_or_404(Order, pk=order_id)
    if request.method == "POST":
        act(model_admin, request, order)
        return _order_page(order)
    context = _context(model_admin, request, order, title % {"number": order.number})
    return TemplateResponse(request, template, context)


def approve_review_view(model_admin, request: HttpRequest, order_id: int) -> HttpResponse:
    """Confirm, then send the approval of the fraud review to the payment service."""
    return _confirmed_action(
        model_admin,
        request,
        order_id,
        allowed=can_review,
        act=approve_review_of,
        title=_("Approve the payment of order %(number)s"),
        template="admin/payments/approve_review.html",
    )


def retry_captures_view(model_admin, request: HttpRequest, order_id: int) -> HttpResponse:
    """Confirm, then queue again the captures of the order that failed for good."""
    return _confirmed_action(
        model_admin,
        request,
        order_id,
        allowed=can_retry_capture,
        act=retry_captures_of,
        title=_("Retry the failed captures of order %(number)s"),
        template="admin/payments/retry_captures.html",
    )


class ResendForm(forms.Form):
    email = forms.IntegerField(widget=forms.HiddenInput)
    request_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


def emails_view(model_admin, request: HttpRequest, order_id: int) -> HttpResponse:
    """The order's e-mails, each with a button that sends it again."""
    if not can_resend_email(request.user):
        raise PermissionDenied
    order = get_object_or_404(Order, pk=order_id)
    emails = list(CustomerEmail.objects.filter(order_id=order.pk))
    form = ResendForm(request.POST or None)
    if request.method == "POST":
        chosen = form.is_valid() and next(
            (e for e in emails if e.pk == form.cleaned_data["email"]), None
        )
        if not chosen:
            model_admin.message_user(
                request, _("Choose one of this order's e-mails."), messages.ERROR
            )
            return _order_page(order)
        resent = customer_email_resend(
            email_id=chosen.pk, request_token=str(form.cleaned_data["request_token"])
        )
        log_staff_action(request, order, "resend_email", chosen.get_kind_display())
        model_admin.message_user(
            request,
            _("Order %(number)s: the e-mail “%(kind)s” is queued again to %(to)s.")
            % {"number": order.number, "kind": chosen.get_kind_display(), "to": resent.to},
            messages.SUCCESS,
        )
        return _order_page(order)
    title = _("E-mails of order %(number)s") % {"number": order.number}
    context = _context(model_admin, request, order, title, emails=emails, token=uuid.uuid4())
    return TemplateResponse(request, "admin/payments/order_emails.html", context)
