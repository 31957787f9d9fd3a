"""The money actions staff take on an order, one function each, shared by the order
list's actions and the order page's buttons; each reports one message per outcome
and records the staff action in the order's history.

Who may take each is checked by ``payments.permissions`` (one helper per action).
"""

from django.contrib import messages
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from orders.admin_audit import log_staff_action
from orders.models import Order
from payments.exceptions import PaymentError
from payments.services import payment_request_review_approval, payment_retry_failed_captures


def approve_review_of(model_admin, request: HttpRequest, order: Order) -> bool:
    """Ask the provider to approve the fraud review of this order's payment."""
    try:
        payment_request_review_approval(order_id=order.pk)
    except PaymentError as error:
        model_admin.message_user(
            request,
            _("Order %(number)s: %(reason)s.") % {"number": order.number, "reason": error},
            messages.ERROR,
        )
        return False
    log_staff_action(request, order, "approve_review")
    model_admin.message_user(
        request,
        _(
            "Order %(number)s: approval sent to the payment service; the order is "
            "confirmed and the customer e-mailed once it answers."
        )
        % {"number": order.number},
        messages.SUCCESS,
    )
    return True


def retry_captures_of(model_admin, request: HttpRequest, order: Order) -> int:
    """Queue again the captures of this order that failed for good."""
    count = payment_retry_failed_captures(order_id=order.pk)
    if count:
        log_staff_action(request, order, "retry_capture", str(count))
        model_admin.message_user(
            request,
            ngettext(
                "Order %(number)s: %(count)d capture queued again.",
                "Order %(number)s: %(count)d captures queued again.",
                count,
            )
            % {"number": order.number, "count": count},
            messages.SUCCESS,
        )
    else:
        model_admin.message_user(
            request,
            _(
                "Order %(number)s: no failed capture can be retried now (if the "
                "authorization expired, the customer must authorize again first)."
            )
            % {"number": order.number},
            messages.WARNING,
        )
    return count
