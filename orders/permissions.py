"""Who may do what to an order: one check per action, used by the list action, the button
and the view alike (a forged request meets the same check).

The Warehouse and Finance groups (data migration ``payments.0010``) hold these
permissions; superusers pass every check.
"""

SHIP = "orders.ship_order"
CANCEL = "orders.cancel_order"
CORRECT_ADDRESS = "orders.correct_order_address"


def _allowed(user, permission: str) -> bool:
    return bool(user and user.is_active and user.is_staff and user.has_perm(permission))


def can_ship(user) -> bool:
    """Mark an order shipped (all or chosen lines): Warehouse."""
    return _allowed(user, SHIP)


def can_cancel(user) -> bool:
    """Cancel what has not shipped, or reject a payment under review: Finance."""
    return _allowed(user, CANCEL)


def can_correct_address(user) -> bool:
    """Correct the customer's e-mail and address on a placed order (audited): Warehouse."""
    return _allowed(user, CORRECT_ADDRESS)
