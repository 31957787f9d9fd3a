"""Errors the order services raise; each message is written for the person who acted."""


class OrderError(Exception):
    """An order operation was refused; nothing was changed."""


class OutOfStock(OrderError):
    """A line asks for more than the stock holds at the moment the order is placed."""


class InvalidOrderTransition(OrderError):
    """The order's current status does not allow the requested change."""


class OrderAlreadyShipped(InvalidOrderTransition):
    """The order was shipped before: shipping it again would change nothing."""


class ShipmentBlocked(OrderError):
    """A receiver of ``order_shipped`` refused the shipment; it was rolled back."""
