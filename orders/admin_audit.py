"""The order page's history: staff actions recorded in Django's admin log, the audited
address correction, and the order's own part of the timeline.

Every staff action on an order is written to ``LogEntry`` (who, when, what) by
``log_staff_action``; the timeline reads it back in the staff's language.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.contrib import messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.exceptions import OrderError
from orders.models import Order
from orders.permissions import can_correct_address
from orders.services import CORRECTABLE_FIELDS, order_correct_address

# Read-only on the order form: changed only through "Correct the address".
CUSTOMER_FIELDS = [*CORRECTABLE_FIELDS, "language"]

STAFF_ACTIONS = {
    "ship": gettext_lazy("Marked shipped"),
    "cancel": gettext_lazy("Cancelled what had not shipped"),
    "approve_review": gettext_lazy("Approved the payment review"),
    "refund": gettext_lazy("Asked for a refund"),
    "retry_capture": gettext_lazy("Retried the failed captures"),
    "resend_email": gettext_lazy("Resent an e-mail"),
    "correct_address": gettext_lazy("Corrected the customer's details"),
}


@dataclass(frozen=True)
class TimelineEvent:
    """One line of the order page's timeline."""

    at: datetime
    what: str
    who: str = ""
    detail: str = ""


def log_staff_action(request: HttpRequest, order: Order, action: str, detail: str = "") -> None:
    """Record that ``request.user`` did ``action`` (a key of ``STAFF_ACTIONS``) to the order."""
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[order],
        action_flag=CHANGE,
        change_message=json.dumps([{"staff_action": action, "detail": detail}]),
        single_object=True,
    )


def _describe(entry: LogEntry) -> tuple[str, str]:
    try:
        data = json.loads(entry.change_message)
        action = data[0]["staff_action"]
        return str(STAFF_ACTIONS[action]), data[0].get("detail", "")
    except (ValueError, LookupError, TypeError):
        return entry.get_change_message() or _("Changed"), ""


def order_timeline(order: Order) -> list[TimelineEvent]:
    """The order's placement, its parcels and every staff action, unsorted."""
    events = [TimelineEvent(at=order.created_at, what=_("Order placed"), who=order.full_name)]
    for shipment in order.shipments.select_related("created_by"):
        events.append(
            TimelineEvent(
                at=shipment.created_at,
                what=_("Parcel shipped"),
                who=str(shipment.created_by or ""),
                detail=f"{shipment.get_carrier_display()} {shipment.tracking_number}".strip(),
            )
        )
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Order), object_id=str(order.pk)
    ).select_related("user")
    for entry in entries:
        what, detail = _describe(entry)
        events.append(
            TimelineEvent(at=entry.action_time, what=what, who=str(entry.user), detail=detail)
        )
    return events


class CorrectAddressForm(forms.ModelForm):
    """The customer's contact and delivery details; every change is recorded."""

    class Meta:
        model = Order
        fields = list(CORRECTABLE_FIELDS)


def correct_address_view(model_admin, request: HttpRequest, order_id: int) -> HttpResponse:
    """Correct the e-mail or address of a placed order; who changed what goes to the history."""
    if not can_correct_address(request.user):
        raise PermissionDenied
    order = get_object_or_404(Order, pk=order_id)
    form = CorrectAddressForm(request.POST or None, instance=Order.objects.get(pk=order_id))
    if request.method == "POST" and form.is_valid():
        values = {field: form.cleaned_data[field] for field in CORRECTABLE_FIELDS}
        try:
            changed = order_correct_address(order_id=order.pk, changes=values)
        except OrderError as error:
            model_admin.message_user(request, str(error), messages.ERROR)
            changed = {}
        else:
            if changed:
                detail = "; ".join(
                    f"{Order._meta.get_field(field).verbose_name}: « {before} » → « {after} »"
                    for field, (before, after) in changed.items()
                )
                log_staff_action(request, order, "correct_address", detail)
                model_admin.message_user(
                    request,
                    _("Order %(number)s: details corrected (%(detail)s).")
                    % {"number": order.number, "detail": detail},
                    messages.SUCCESS,
                )
            else:
                model_admin.message_user(request, _("Nothing was changed."), messages.INFO)
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Correct the details of order %(number)s") % {"number": order.number},
        "opts": model_admin.model._meta,
        "order": order,
        "form": form,
    }
    return TemplateResponse(request, "admin/orders/order/correct_address.html", context)
