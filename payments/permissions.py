"""Who may do what with an order's money: one check per action, used by the list action,
the button and the view alike (a forged request meets the same check).

The Finance group (data migration ``payments.0010``) holds these permissions;
superusers pass every check.
"""

REVIEW = "payments.review_payment"
REFUND = "payments.refund_payment"
RETRY_CAPTURE = "payments.retry_capture"
RESEND_EMAIL = "payments.resend_customer_email"
RECONCILE = "payments.reconcile_payments"


def _allowed(user, permission: str) -> bool:
    return bool(user and user.is_active and user.is_staff and user.has_perm(permission))


def can_review(user) -> bool:
    """Approve a payment held by the provider's fraud review."""
    return _allowed(user, REVIEW)


def can_refund(user) -> bool:
    return _allowed(user, REFUND)


def can_retry_capture(user) -> bool:
    return _allowed(user, RETRY_CAPTURE)


def can_resend_email(user) -> bool:
    return _allowed(user, RESEND_EMAIL)


def can_reconcile(user) -> bool:
    """Run a reconciliation with the provider and read its results."""
    return _allowed(user, RECONCILE)
