"""Receivers of other apps' signals; connected in ``PaymentsConfig.ready``."""

from django.utils.translation import gettext as _

from orders.exceptions import ShipmentBlocked
from orders.models import Order, Shipment
from payments.exceptions import PaymentError
from payments.services import payment_request_capture, payment_request_void


def capture_payment_on_order_shipped(
    sender: type[Order], *, order: Order, shipment: Shipment, **kwargs: object
) -> None:
    """Record the capture a parcel calls for, in the shipment's own transaction.

    When the authorization cannot cover it the shipment is refused (and
    rolled back) with a message for staff: no parcel leaves without its
    capture request. What it did is read back from the records for staff
    (``PaymentsOrderAdmin.shipment_messages``); nothing is returned.
    """
    try:
        payment_request_capture(
            order_id=order.pk,
            shipment_id=shipment.pk,
            amount=shipment.amount,
            currency=shipment.currency,
        )
    except PaymentError as error:
        raise ShipmentBlocked(
            _("Order %(number)s cannot ship: %(reason)s.")
            % {"number": order.number, "reason": error}
        ) from error


def void_payment_on_order_cancelled(sender: type[Order], *, order: Order, **kwargs) -> None:
    """Record the void of what is left of the hold, in the cancellation's transaction."""
    payment_request_void(order_id=order.pk)
