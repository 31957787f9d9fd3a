"""Signals the orders side sends; other apps listen without orders knowing them."""

from django.dispatch import Signal

# Sent inside the shipment's transaction, with ``order`` and ``shipment``.
# A receiver that raises rolls the shipment back: nothing ships without what
# the receivers record (the payments app records the capture request). What
# receivers return is not read: staff hear what they did from their records,
# through ``OrderAdminExtension.shipment_messages`` (``orders.admin_extensions``).
order_shipped = Signal()

# Sent inside the cancellation's transaction, with ``order``: what was not
# shipped is cancelled, and ``order.amount_due`` is what remains to charge.
order_cancelled = Signal()
