"""The payments app's public API: every service, one import path. No logic here.

Each verb lives in its own module under ``payments/operations/`` (read its
docstring for what it guarantees); the engine they share, with the one lock
order and the ledger protocol, is ``payments/operations/engine.py``.
Importing this module registers every worker-run operation with the engine.
"""

from payments.operations.authorization import (
    AuthorizationAttempt,
    payment_abandon_authorization,
    payment_authorize,
    payment_authorize_attempt,
    payment_authorize_attempt_for_new_order,
    payment_authorize_send,
    payment_complete_authentication,
    payment_create_for_order,
    payment_outstanding_amount,
    payment_sync_authorization,
)
from payments.operations.capture import (
    payment_capture,
    payment_request_capture,
    payment_retry_failed_captures,
)
from payments.operations.card_sessions import (
    payment_card_session_check,
    payment_card_session_read,
    payment_card_session_start,
    payment_card_session_transfer,
    payment_card_sessions_purge_expired,
)
from payments.operations.engine import (
    UNKNOWN_OUTCOMES,
    OperationOutcome,
    payment_operation_run,
    payment_qs_select_for_update,
)
from payments.operations.keys import capture as capture_key_for_shipment
from payments.operations.provider_events import (
    payment_event_process,
    payment_event_record,
    payment_sync_with_provider,
)
from payments.operations.reauthorization import (
    Reauthorization,
    payment_reauthorization,
    payment_reauthorize,
)
from payments.operations.reconciliation import payment_reconcile
from payments.operations.recovery import WatchReport, payment_watch_authorizations
from payments.operations.refund import payment_refund, payment_request_refund
from payments.operations.retention import PurgeCounts, payment_purge_declined_orders
from payments.operations.review import payment_approve_review, payment_request_review_approval
from payments.operations.void import payment_request_void, payment_void

__all__ = [
    "UNKNOWN_OUTCOMES",
    "AuthorizationAttempt",
    "OperationOutcome",
    "PurgeCounts",
    "Reauthorization",
    "WatchReport",
    "capture_key_for_shipment",
    "payment_abandon_authorization",
    "payment_approve_review",
    "payment_authorize",
    "payment_authorize_attempt",
    "payment_authorize_attempt_for_new_order",
    "payment_authorize_send",
    "payment_capture",
    "payment_card_session_check",
    "payment_card_session_read",
    "payment_card_session_start",
    "payment_card_session_transfer",
    "payment_card_sessions_purge_expired",
    "payment_complete_authentication",
    "payment_create_for_order",
    "payment_event_process",
    "payment_event_record",
    "payment_operation_run",
    "payment_outstanding_amount",
    "payment_purge_declined_orders",
    "payment_qs_select_for_update",
    "payment_reauthorization",
    "payment_reauthorize",
    "payment_reconcile",
    "payment_refund",
    "payment_request_capture",
    "payment_request_refund",
    "payment_request_review_approval",
    "payment_request_void",
    "payment_retry_failed_captures",
    "payment_sync_authorization",
    "payment_sync_with_provider",
    "payment_void",
    "payment_watch_authorizations",
]
