"""An in-memory fake of the Stripe API at the HTTP level: a test double, never a network.

``StripeFake`` is a :class:`stripe.HTTPClient`. Give it to the official library::

    fake = StripeFake()
    client = stripe.StripeClient("sk_test_fake", http_client=fake, max_network_retries=2)

and everything the library does stays real (form encoding, ``Idempotency-Key``
headers, network retries, error classes such as ``stripe.CardError``), while the
answers come from memory, shaped like the documented Stripe objects of API
version ``2026-10-28.endive``.

Served (under ``https://api.stripe.com``): confirmation tokens (GET), payment
intents (create with ``confirm=true``, list, retrieve, capture, cancel), refunds
(create, list, retrieve); lists page with ``limit``/``starting_after`` and filter
on ``created``, reviews (retrieve, approve), charges, disputes and
payment methods (retrieve). Anything else is a 404.

The confirmation token names one of Stripe's test payment methods
(``pm_card_visa``, ``pm_card_visa_chargeDeclined``, ``pm_paypal``…, see
``TEST_PAYMENT_METHODS``), which decides what confirming does. Tests steer the
rest from outside: ``complete_action`` (3-D Secure, PayPal, Alipay),
``close_review``, ``expire``, ``dispute``, ``refund_outside``, network faults with
``fail_next``; they read ``requests`` (what was sent) and ``count`` (what really
happened, replays excluded). ``event``, ``webhook`` and ``sign`` build signed
webhooks that ``stripe.Webhook.construct_event`` accepts.

Every request is first checked against the pinned version's contract, read from
the library's generated parameter types (``stripe_contract``): what Stripe would
refuse (an unknown parameter at any depth, a value outside an enum, a removed
parameter such as ``payment_method_types``) gets Stripe's 400, and is noted in
``contract_refusals``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import stripe

from tests.payments import stripe_contract as contract

API_VERSION = "2026-10-28.endive"
DAY = 24 * 60 * 60
CARD_AUTHORIZATION_DAYS = 7
FaultKind = Literal["connection", "lost", "500", "429"]


# Stripe's test payment methods ------------------------------------------------


@dataclass(frozen=True)
class Decline:
    """How the issuer refuses a test card."""

    code: str
    decline_code: str
    message: str
    param: str | None = None


@dataclass(frozen=True)
class MethodBehaviour:
    """What a Stripe test payment method does when a PaymentIntent is confirmed with it."""

    type: Literal["card", "paypal", "alipay"]
    brand: str = ""
    last4: str = ""
    decline: Decline | None = None
    three_d_secure: bool = False
    elevated_risk: bool = False


TEST_PAYMENT_METHODS: dict[str, MethodBehaviour] = {
    "pm_card_visa": MethodBehaviour("card", "visa", "4242"),
    "pm_card_mastercard": MethodBehaviour("card", "mastercard", "4444"),
    "pm_card_amex": MethodBehaviour("card", "amex", "8431"),
    "pm_card_discover": MethodBehaviour("card", "discover", "1117"),
    "pm_card_visa_chargeDeclined": MethodBehaviour(
        "card",
        "visa",
        "0002",
        decline=Decline("card_declined", "generic_decline", "Your card was declined."),
    ),
    "pm_card_visa_chargeDeclinedInsufficientFunds": MethodBehaviour(
        "card",
        "visa",
        "9995",
        decline=Decline("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
    "pm_card_chargeDeclinedIncorrectCvc": MethodBehaviour(
        "card",
        "visa",
        "0127",
        decline=Decline(
            "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.", "cvc"
        ),
    ),
    "pm_card_chargeDeclinedExpiredCard": MethodBehaviour(
        "card",
        "visa",
        "0069",
        decline=Decline("expired_card", "expired_card", "Your card has expired.", "exp_month"),
    ),
    "pm_card_chargeDeclinedProcessingError": MethodBehaviour(
        "card",
        "visa",
        "0119",
        decline=Decline(
            "processing_error",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        ),
    ),
    "pm_card_authenticationRequired": MethodBehaviour("card", "visa", "3184", three_d_secure=True),
    "pm_card_riskLevelElevated": MethodBehaviour("card", "visa", "9235", elevated_risk=True),
    "pm_paypal": MethodBehaviour("paypal"),
    "pm_alipay": MethodBehaviour("alipay"),
}

DISPLAY_BRANDS = {
    "visa": "visa",
    "mastercard": "mastercard",
    "amex": "american_express",
    "discover": "discover",
}
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
REVIEW_CLOSED_REASONS = ("approved", "refunded", "refunded_as_fraud", "disputed", "redacted")
# The request parameters the fake implements per endpoint (all also take ``expand``); what
# Stripe accepts is checked first, against the library's generated types (stripe_contract).
CREATE_PARAMS = (
    "amount",
    "currency",
    "confirm",
    "confirmation_token",
    "return_url",
    "capture_method",
    "allowed_payment_method_types",
    "excluded_payment_method_types",
    "payment_method_options",
    "automatic_payment_methods",
    "metadata",
    "description",
    "receipt_email",
    "statement_descriptor_suffix",
)
CAPTURE_PARAMS = ("amount_to_capture", "final_capture", "metadata")
CANCEL_PARAMS = ("cancellation_reason",)
REFUND_PARAMS = ("payment_intent", "charge", "amount", "metadata", "reason")
LIST_REFUNDS_PARAMS = ("payment_intent", "charge", "limit", "created", "starting_after")
LIST_PAYMENT_INTENTS_PARAMS = ("limit", "created", "starting_after")
# What the fake serves: method, path, handler ("retrieve:<object>" or a method name), and the
# parameters it implements. Each is an operation of the stripe library (stripe_contract).
ROUTES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("POST", r"/v1/payment_intents", "_create_payment_intent", CREATE_PARAMS),
    ("GET", r"/v1/payment_intents", "_list_payment_intents", LIST_PAYMENT_INTENTS_PARAMS),
    ("GET", r"/v1/payment_intents/([^/]+)", "retrieve:payment_intent", ()),
    ("POST", r"/v1/payment_intents/([^/]+)/capture", "_capture", CAPTURE_PARAMS),
    ("POST", r"/v1/payment_intents/([^/]+)/cancel", "_cancel_intent", CANCEL_PARAMS),
    ("POST", r"/v1/refunds", "_create_refund", REFUND_PARAMS),
    ("GET", r"/v1/refunds", "_list_refunds", LIST_REFUNDS_PARAMS),
    ("GET", r"/v1/refunds/([^/]+)", "retrieve:refund", ()),
    ("POST", r"/v1/reviews/([^/]+)/approve", "_approve_review", ()),
    ("GET", r"/v1/reviews/([^/]+)", "retrieve:review", ()),
    ("GET", r"/v1/charges/([^/]+)", "retrieve:charge", ()),
    ("GET", r"/v1/disputes/([^/]+)", "retrieve:dispute", ()),
    ("GET", r"/v1/payment_methods/([^/]+)", "retrieve:payment_method", ()),
    ("GET", r"/v1/confirmation_tokens/([^/]+)", "retrieve:confirmation_token", ()),
)
EXPANDABLE = ("latest_charge", "review", "charge", "payment_intent", "payment_method", "refunds")
NOT_FOUND_NAMES = {
    "payment_intent": "payment_intent",
    "charge": "charge",
    "review": "review",
    "refund": "refund",
    "dispute": "dispute",
    "confirmation_token": "confirmationtoken",
    "payment_method": "PaymentMethod",
}


# Form decoding ----------------------------------------------------------------

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")


def decode_params(encoded: str | bytes | None) -> dict[str, Any]:
    """Decode Stripe's form encoding (``a[b][c]=v``, ``expand[0]=x``) into dicts and lists.

    Dicts whose keys are all indexes become lists (``metadata`` stays a dict);
    ``a[]=x`` appends. Raises ``ValueError`` for malformed or conflicting keys.
    """
    if isinstance(encoded, bytes):
        encoded = encoded.decode("utf-8")
    root: dict[str, Any] = {}
    for key, value in parse_qsl(encoded or "", keep_blank_values=True, strict_parsing=False):
        match = _KEY.fullmatch(key)
        if match is None:
            raise ValueError(f"Invalid parameter name: {key}")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node: dict[str, Any] = root
        for index, part in enumerate(parts):
            name = str(len(node)) if part == "" else part
            if index == len(parts) - 1:
                if name in node:
                    raise ValueError(f"Parameter given twice: {key}")
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise ValueError(f"Parameter is both a value and a hash: {key}")
                node = child
    return _listify(root)


def _listify(value: Any, name: str = "") -> Any:
    if not isinstance(value, dict):
        return value
    items = {key: _listify(item, key) for key, item in value.items()}
    if items and name != "metadata" and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


# Webhooks ---------------------------------------------------------------------


def sign(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends with ``payload``: ``t=…,v1=<hmac>``."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8")
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook(
    event: Mapping[str, Any], secret: str, timestamp: int | None = None
) -> tuple[bytes, str]:
    """The body and ``Stripe-Signature`` header of a webhook delivering ``event``."""
    payload = json.dumps(event, indent=2).encode("utf-8")
    return payload, sign(payload, secret, timestamp)


# Plumbing -----------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """Case-insensitive response headers, as ``requests`` returns them (the library needs it)."""

    def __init__(self, items: Mapping[str, str]) -> None:
        self._items = {key.lower(): (key, value) for key, value in items.items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self)!r})"


@dataclass
class RecordedRequest:
    """One request the library sent, as the fake decoded it."""

    method: str  # "GET" or "POST"
    path: str  # "/v1/payment_intents/pi_…/capture"
    params: dict[str, Any]
    headers: dict[str, str]
    status: int | None = None  # the HTTP status produced; None when the connection "failed"
    fault: str | None = None  # the injected fault, if any
    replayed: bool = False  # answered from the idempotency store

    @property
    def idempotency_key(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "idempotency-key"), None)


@dataclass
class _Fault:
    kind: FaultKind
    path_contains: str
    method: str | None
    times: int


@dataclass(frozen=True)
class _Stored:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: str
    request_id: str


@dataclass
class _Attempt:
    """How a PaymentIntent is being paid: the test method behind its confirmation token."""

    method: MethodBehaviour
    wallet: str | None
    payment_method_id: str


class ApiError(Exception):
    """An error answer; ``store`` is False for validation errors, which Stripe does not save."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        store: bool = True,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.store = store
        self.error: dict[str, Any] = {"type": type_, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}"
        if param:
            self.error["param"] = param
        self.error.update(extra)


def _invalid(message: str, *, code: str | None = None, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request_error", message, code=code, param=param, store=False)


def _int_param(params: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw):
        raise _invalid(f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name)
    return int(raw)


def _bool_param(params: Mapping[str, Any], name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise _invalid(f"Invalid boolean: {raw}", param=name)
    return raw == "true"


def _str_param(params: Mapping[str, Any], name: str, choices: tuple[str, ...] = ()) -> str | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _invalid(f"Invalid string: {raw!r}", param=name)
    if choices and raw not in choices:
        raise _invalid(f"Invalid {name}: must be one of {', '.join(choices)}", param=name)
    return raw


def _metadata(params: Mapping[str, Any], current: dict[str, str] | None = None) -> dict[str, str]:
    """Stripe's metadata update: empty values unset keys, ``metadata=""`` unsets all."""
    result = dict(current or {})
    raw = params.get("metadata")
    if raw is None:
        return result
    if raw == "":
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise _invalid("Invalid hash", param="metadata")
    for key, value in raw.items():
        if value == "":
            result.pop(key, None)
        else:
            result[key] = value
    return result


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency.upper()}"


# The fake -------------------------------------------------------------------------


class StripeFake(stripe.HTTPClient):
    """The Stripe API in memory, behind the library's HTTP client interface."""

    name = "fake"

    def __init__(self, *, multicapture: bool = True, now: int | None = None) -> None:
        super().__init__()
        self.multicapture = multicapture  # issuers grant multicapture when it is requested
        # The status a new refund starts in; "pending" or "requires_action" until
        # ``settle_refund`` (Stripe documents both for refunds not finished at once).
        self.refund_status: Literal["succeeded", "pending", "requires_action"] = "succeeded"
        self.now = int(time.time()) if now is None else now  # the fake's clock (created, expiry)
        self.requests: list[RecordedRequest] = []
        self.contract_refusals: list[RecordedRequest] = []  # refused by the pinned contract
        self.counts: Counter[tuple[str, str]] = Counter()  # (operation, id) -> real actions
        self._objects: dict[str, dict[str, Any]] = {}
        self._attempts: dict[str, _Attempt] = {}  # PaymentIntent id -> its payment method
        self._token_methods: dict[str, tuple[str, str | None]] = {}
        self._expired: set[str] = set()
        self._idempotency: dict[str, _Stored] = {}
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # stripe.HTTPClient -------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        """Answer one request from memory (or fail it, as ``fail_next`` asked)."""
        with self._lock:
            return self._handle(method.upper(), url, dict(headers or {}), post_data)

    def close(self) -> None:
        """Nothing to close."""

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0.0

    # Test controls ------------------------------------------------------------------

    def create_confirmation_token(
        self,
        payment_method: str = "pm_card_visa",
        wallet: Literal["apple_pay", "google_pay"] | None = None,
        *,
        billing_details: Mapping[str, Any] | None = None,
    ) -> str:
        """A ConfirmationToken, as Stripe.js makes one, for a test payment method; its id."""
        with self._lock:
            method = TEST_PAYMENT_METHODS[payment_method]
            if wallet is not None and (
                method.type != "card" or wallet not in ("apple_pay", "google_pay")
            ):
                raise ValueError(f"no {wallet} wallet for {payment_method}")
            token_id = self._new_id("ctoken")
            preview: dict[str, Any] = {
                "allow_redisplay": "unspecified",
                "billing_details": self._billing_details(billing_details),
                "customer": None,
                "customer_account": None,
                "type": method.type,
            }
            preview[method.type] = self._method_details(method, wallet)
            self._objects[token_id] = {
                "id": token_id,
                "object": "confirmation_token",
                "created": self.now,
                "expires_at": self.now + 12 * 60 * 60,
                "livemode": False,
                "mandate_data": None,
                "payment_intent": None,
                "payment_method_options": None,
                "payment_method_preview": preview,
                "return_url": None,
                "setup_future_usage": None,
                "setup_intent": None,
                "shipping": None,
                "use_stripe_sdk": False,
            }
            self._token_methods[token_id] = (payment_method, wallet)
            return token_id

    def complete_action(self, payment_intent_id: str, succeed: bool = True) -> dict[str, Any]:
        """The customer finishes (or fails) 3-D Secure or the PayPal/Alipay redirect."""
        with self._lock:
            intent = self._control(payment_intent_id, "requires_action")
            attempt = self._attempts[payment_intent_id]
            if succeed:
                self._authorize(intent, attempt, authenticated=attempt.method.three_d_secure)
            elif attempt.method.type == "card":
                self._fail_attempt(
                    intent,
                    "payment_intent_authentication_failure",
                    "The provided PaymentMethod has failed authentication. You can provide "
                    "payment_method_data or a new PaymentMethod to attempt to fulfill this "
                    "PaymentIntent again.",
                )
            else:
                self._fail_attempt(
                    intent,
                    "payment_intent_payment_attempt_failed",
                    "The latest payment attempt of this PaymentIntent has failed or been "
                    "canceled, and the attached payment method has been removed. You can try "
                    "confirming again with a new payment method.",
                )
            return self.get(payment_intent_id)

    def close_review(
        self,
        payment_intent_id: str,
        reason: Literal["approved", "refunded", "refunded_as_fraud", "disputed", "redacted"] = (
            "approved"
        ),
    ) -> dict[str, Any]:
        """Close the PaymentIntent's open review from the Dashboard; only the review changes."""
        with self._lock:
            if reason not in REVIEW_CLOSED_REASONS:
                raise ValueError(f"unknown review closing reason {reason!r}")
            intent = self._control(payment_intent_id)
            review = self._objects.get(intent["review"] or "")
            if review is None or not review["open"]:
                raise ValueError(f"{payment_intent_id} has no open review")
            self._close_review(review, reason)
            return self.get(review["id"])

    def expire(
        self,
        payment_intent_id: str,
        *,
        cancel: bool = False,
        reason: Literal["expired", "automatic"] = "expired",
    ) -> dict[str, Any]:
        """The authorization lapses: the next capture fails with ``charge_expired_for_capture``.

        With ``cancel=True`` the PaymentIntent is canceled at once (reason ``expired``, as
        Stripe documents for a lapsed authorization; ``reason="automatic"`` for the other
        sweeps Stripe names so), as Stripe's own sweep eventually does.
        """
        with self._lock:
            intent = self._control(payment_intent_id, "requires_capture")
            self._expired.add(payment_intent_id)
            if cancel:
                self._cancel(intent, reason)
            return self.get(payment_intent_id)

    def dispute(self, payment_intent_id: str, reason: str = "fraudulent") -> dict[str, Any]:
        """The customer disputes the captured payment; returns the Dispute."""
        with self._lock:
            try:
                charge = self._captured_charge(self._control(payment_intent_id))
            except ApiError as error:
                raise ValueError(str(error)) from None
            dispute_id = self._new_id("dp")
            self._objects[dispute_id] = {
                "id": dispute_id,
                "object": "dispute",
                "amount": charge["amount_captured"],
                "balance_transactions": [],
                "charge": charge["id"],
                "created": self.now,
                "currency": charge["currency"],
                "enhanced_eligibility_types": [],
                "evidence": {"enhanced_evidence": {}},
                "evidence_details": {
                    "due_by": self.now + 7 * DAY,
                    "enhanced_eligibility": {},
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                    "submission_method": "not_submitted",
                },
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": payment_intent_id,
                "reason": reason,
                "status": "needs_response",
            }
            charge["disputed"] = True
            review = self._objects.get(charge["review"] or "")
            if review is not None and review["open"]:
                self._close_review(review, "disputed")
            return self.get(dispute_id)

    def refund_outside(
        self, payment_intent_id: str, amount: int | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """A refund made in the Dashboard (not through the API); returns the Refund."""
        with self._lock:
            intent = self._control(payment_intent_id)
            try:
                refund = self._refund(intent, amount, reason=reason, metadata={})
            except ApiError as error:
                raise ValueError(str(error)) from None
            return self.get(refund["id"])

    def capture_outside(self, payment_intent_id: str, amount: int | None = None) -> dict[str, Any]:
        """A capture made in the Dashboard (not through the shop); returns the PaymentIntent."""
        with self._lock:
            intent = self._control(payment_intent_id)
            params = {} if amount is None else {"amount_to_capture": str(amount)}
            try:
                self._capture(params, intent["id"])
            except ApiError as error:
                raise ValueError(str(error)) from None
            return self.get(intent["id"])

    def settle_refund(self, refund_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """A refund in progress succeeds, or fails (the money goes back to the balance)."""
        with self._lock:
            refund = self._objects.get(refund_id)
            if refund is None or refund["object"] != "refund":
                raise KeyError(f"no refund {refund_id!r} in the fake")
            if refund["status"] not in ("pending", "requires_action"):
                raise ValueError(f"{refund_id} is {refund['status']}, not in progress")
            if succeed:
                refund["status"] = "succeeded"
            else:
                refund.update(status="failed", failure_reason="declined")
                charge = self._objects[refund["charge"]]
                charge["amount_refunded"] -= refund["amount"]
                charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
            return self.get(refund_id)

    def fail_next(
        self,
        kind: FaultKind,
        *,
        path_contains: str = "",
        method: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` matching requests fail.

        ``connection``: ``APIConnectionError`` before acting (the library retries it);
        ``lost``: act and store the answer under the idempotency key, then raise
        ``APIConnectionError`` (the answer is lost); ``500``: an ``api_error`` before
        acting (retried by the library); ``429``: a ``rate_limit`` error (not retried).
        """
        if kind not in ("connection", "lost", "500", "429"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults.append(_Fault(kind, path_contains, method and method.upper(), times))

    def advance(self, seconds: int) -> None:
        """Move the fake's clock (a card's hold lapses at ``capture_before``)."""
        self.now += seconds

    def count(self, operation: str, object_id: str | None = None) -> int:
        """How many times an operation really acted (replays excluded), for one id or all.

        Operations: ``payment_intents.create``, ``payment_intents.capture``,
        ``payment_intents.cancel``, ``refunds.create`` (keyed by PaymentIntent id) and
        ``reviews.approve`` (keyed by review id).
        """
        return sum(
            n
            for (op, oid), n in self.counts.items()
            if op == operation and object_id in (None, oid)
        )

    def get(self, object_id: str, expand: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
        """The current state of any fake object, as the API would return it."""
        with self._lock:
            return self._render(self._objects[object_id], list(expand))

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """All objects of a kind (``"payment_intent"``, ``"charge"``, ``"refund"``…), oldest first."""
        with self._lock:
            return [self._render(o, []) for o in self._objects.values() if o["object"] == kind]

    def event(
        self,
        type: str,
        obj: Mapping[str, Any] | str,
        *,
        event_id: str | None = None,
        previous_attributes: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An Event of ``type`` about ``obj`` (an id: its current state; a dict: that snapshot)."""
        with self._lock:
            data_object = self.get(obj) if isinstance(obj, str) else copy.deepcopy(dict(obj))
            data: dict[str, Any] = {"object": data_object}
            if previous_attributes is not None:
                data["previous_attributes"] = dict(previous_attributes)
            return {
                "id": event_id or self._new_id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "created": self.now,
                "data": data,
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": type,
            }

    # Request handling ---------------------------------------------------------------

    def _handle(
        self, method: str, url: str, headers: dict[str, str], post_data: Any
    ) -> tuple[str, int, Mapping[str, str]]:
        parts = urlsplit(url)
        record = RecordedRequest(method, parts.path, {}, headers)
        self.requests.append(record)
        decode_error = None
        try:
            record.params = decode_params(parts.query if method == "GET" else post_data)
        except ValueError as error:
            decode_error = _invalid(str(error))
        fault = self._take_fault(method, parts.path)
        record.fault = fault.kind if fault else None
        if fault is not None and fault.kind == "connection":
            raise stripe.APIConnectionError(
                "Unexpected error communicating with Stripe. If this problem persists, let us "
                "know at support@stripe.com.\n\n(Network error: ConnectionError: fake)",
                should_retry=True,
            )
        try:
            if decode_error is not None:
                raise decode_error
            if fault is not None and fault.kind == "500":
                raise ApiError(500, "api_error", "An unknown error occurred", store=False)
            if fault is not None and fault.kind == "429":
                raise ApiError(
                    429,
                    "invalid_request_error",
                    "Request rate limit exceeded. Learn more about rate limits here "
                    "https://docs.stripe.com/rate-limits.",
                    code="rate_limit",
                    store=False,
                )
            status, body, response_headers = self._execute(method, record, headers)
        except ApiError as error:
            body = json.dumps({"error": error.error}, indent=2)
            status, response_headers = error.status, self._headers(headers, {})
        record.status = status
        record.replayed = "Idempotent-Replayed" in response_headers
        if fault is not None and fault.kind == "lost":
            raise stripe.APIConnectionError(
                "Unexpected error communicating with Stripe. If this problem persists, let us "
                "know at support@stripe.com.\n\n(Network error: ReadTimeout: fake)",
                should_retry=True,
            )
        return body, status, response_headers

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.path_contains in path and fault.method in (None, method):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _execute(
        self, method: str, record: RecordedRequest, headers: dict[str, str]
    ) -> tuple[int, str, Headers]:
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not re.fullmatch(r"Bearer (sk|rk)_test_\S+", authorization):
            raise ApiError(
                401,
                "invalid_request_error",
                "Invalid API Key provided (the fake takes test keys).",
                store=False,
            )
        key = record.idempotency_key if method == "POST" else None
        stored = self._idempotency.get(key) if key else None
        if stored is not None:
            if (stored.method, stored.path, stored.params) != (method, record.path, record.params):
                raise ApiError(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    store=False,
                )
            extra = {"Idempotent-Replayed": "true", "Original-Request": stored.request_id}
            return stored.status, stored.body, self._headers(headers, extra)
        request_id = self._new_id("req")
        try:
            handler, implemented, args = self._route(method, record.path)
            try:
                contract.validate(method, record.path, record.params)
            except contract.ContractError as error:
                self.contract_refusals.append(record)
                raise _invalid(error.message, code=error.code, param=error.param) from None
            for name in record.params:
                if name not in (*implemented, "expand"):
                    # Stripe accepts it, the fake would ignore it: say so rather than pretend.
                    raise ApiError(
                        400,
                        "invalid_request_error",
                        f"StripeFake does not implement the parameter {name} (Stripe accepts it).",
                        param=name,
                        store=False,
                    )
            expand = record.params.get("expand", [])
            if not isinstance(expand, list) or not all(isinstance(e, str) for e in expand):
                raise _invalid("Invalid array", param="expand")
            result = self._render(handler(record.params, *args), expand)
            status, body = 200, json.dumps(result, indent=2)
            store = True
        except ApiError as error:
            status, body, store = (
                error.status,
                json.dumps({"error": error.error}, indent=2),
                error.store,
            )
        if key and store:
            self._idempotency[key] = _Stored(
                method, record.path, record.params, status, body, request_id
            )
        return status, body, self._headers(headers, {"Request-Id": request_id})

    def _headers(self, request_headers: dict[str, str], extra: dict[str, str]) -> Headers:
        result = {
            "Content-Type": "application/json",
            "Request-Id": self._new_id("req"),
            "Stripe-Version": API_VERSION,
        }
        key = next((v for k, v in request_headers.items() if k.lower() == "idempotency-key"), None)
        if key:
            result["Idempotency-Key"] = key
        result.update(extra)
        return Headers(result)

    def _route(self, method: str, path: str) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
        """The handler for a request, the parameters it implements (besides expand), path ids."""
        for route_method, pattern, handler, implemented in ROUTES:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                if handler.startswith("retrieve:"):
                    return self._retriever(handler.removeprefix("retrieve:")), (), match.groups()
                return getattr(self, handler), implemented, match.groups()
        raise ApiError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({method}: {path}). Please see https://docs.stripe.com "
            "or we can help at https://support.stripe.com/.",
            code="resource_missing",
            store=False,
        )

    def _retriever(self, kind: str) -> Any:
        return lambda params, object_id: self._get(object_id, kind)

    # Endpoints -------------------------------------------------------------------------

    def _create_payment_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        """Create a PaymentIntent and, with ``confirm=true``, confirm it with the token's method."""
        amount = _int_param(params, "amount")
        if amount is None:
            raise _invalid(
                "Missing required param: amount.", code="parameter_missing", param="amount"
            )
        if amount < 50:
            raise _invalid(
                "Amount must be at least 50 cents", code="amount_too_small", param="amount"
            )
        currency = _str_param(params, "currency")
        if not currency:
            raise _invalid(
                "Missing required param: currency.", code="parameter_missing", param="currency"
            )
        capture_method = _str_param(
            params, "capture_method", ("automatic", "automatic_async", "manual")
        )
        types = params.get("allowed_payment_method_types")
        if types is not None and (
            not isinstance(types, list) or not all(isinstance(t, str) for t in types)
        ):
            raise _invalid("Invalid array", param="allowed_payment_method_types")
        exclusive = [
            name
            for name in (
                "allowed_payment_method_types",
                "excluded_payment_method_types",
                "automatic_payment_methods",
                "payment_method_configuration",
            )
            if name in params
        ]
        if types is not None and len(exclusive) > 1:
            # 2026-07-29.dahlia: allowed_payment_method_types is exclusive with the others.
            raise _invalid(
                f"You cannot use {' and '.join(exclusive)} together.",
                code="parameters_exclusive",
                param=exclusive[1],
            )
        options = params.get("payment_method_options", {})
        if not isinstance(options, dict) or not all(isinstance(o, dict) for o in options.values()):
            raise _invalid("Invalid hash", param="payment_method_options")
        for kind, kind_options in options.items():
            if kind_options.get("capture_method") not in (None, "", "manual"):
                raise _invalid(
                    "Invalid capture_method",
                    param=f"payment_method_options[{kind}][capture_method]",
                )
        automatic = params.get("automatic_payment_methods")
        confirm = _bool_param(params, "confirm", False)
        return_url = _str_param(params, "return_url")
        token_id = _str_param(params, "confirmation_token")

        attempt: _Attempt | None = None
        token: dict[str, Any] | None = None
        if confirm:
            token = self._objects.get(token_id or "")
            if (
                token is None
                or token["object"] != "confirmation_token"
                or token["payment_intent"]
                or self.now > token["expires_at"]
            ):
                raise _invalid(
                    f"No such confirmationtoken: '{token_id}'",
                    code="resource_missing",
                    param="confirmation_token",
                )
            name, wallet = self._token_methods[token["id"]]
            method = TEST_PAYMENT_METHODS[name]
            if types is not None and method.type not in types:
                raise _invalid(
                    f"The PaymentMethod type {method.type} is not allowed for this PaymentIntent "
                    f"(allowed_payment_method_types: {', '.join(types)}).",
                    code="payment_intent_incompatible_payment_method",
                    param="confirmation_token",
                )
            redirects_allowed = not (
                isinstance(automatic, dict) and automatic.get("allow_redirects") == "never"
            )
            if not return_url and (method.type != "card" or (types is None and redirects_allowed)):
                raise _invalid(
                    "A return_url must be specified because this PaymentIntent may require a "
                    "redirect to succeed.",
                    code="parameter_missing",
                    param="return_url",
                )
            attempt = _Attempt(method, wallet, self._new_payment_method(token))

        pi_id = self._new_id("pi")
        intent: dict[str, Any] = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": (
                {
                    "allow_redirects": (automatic or {}).get("allow_redirects", "always"),
                    "enabled": True,
                }
                if isinstance(automatic, dict) or types is None
                else None
            ),
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture_method or "automatic_async",
            "client_secret": f"{pi_id}_secret_{hashlib.sha256(pi_id.encode()).hexdigest()[:24]}",
            "confirmation_method": "automatic",
            "created": self.now,
            "currency": currency.lower(),
            "customer": None,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": _metadata(params),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": copy.deepcopy(options),
            "payment_method_types": types or [attempt.method.type if attempt else "card"],
            "processing": None,
            "receipt_email": params.get("receipt_email"),
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "source": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": None,
        }
        self._objects[pi_id] = intent
        self.counts["payment_intents.create", pi_id] += 1
        if attempt is None or token is None:
            return intent
        token["payment_intent"] = pi_id
        self._attempts[pi_id] = attempt
        intent["payment_method"] = attempt.payment_method_id
        method = attempt.method
        if method.decline is not None:
            self._decline(intent, attempt, method.decline)
        elif method.three_d_secure or method.type in ("paypal", "alipay"):
            self._require_action(intent, method, return_url)
        else:
            self._authorize(intent, attempt)
        return intent

    def _capture(self, params: dict[str, Any], pi_id: str) -> dict[str, Any]:
        """Capture (part of) what is held; ``final_capture=false`` needs multicapture."""
        intent = self._get(pi_id, "payment_intent")
        amount = _int_param(params, "amount_to_capture", intent["amount_capturable"])
        final = _bool_param(params, "final_capture", True)
        metadata = _metadata(params, intent["metadata"])
        assert amount is not None
        if intent["status"] != "requires_capture":
            raise self._unexpected_state(intent, "captured", "requires_capture")
        charge = self._objects[intent["latest_charge"]]
        if self._lapsed(intent):
            self._cancel(intent, "expired")
            raise ApiError(
                400,
                "invalid_request_error",
                "This PaymentIntent could not be captured because the authorization has expired.",
                code="charge_expired_for_capture",
                charge=charge["id"],
                payment_intent=self._render(intent, []),
            )
        if amount < 1:
            raise _invalid(
                "Amount to capture must be a positive integer.",
                code="amount_too_small",
                param="amount_to_capture",
            )
        if amount > intent["amount_capturable"]:
            raise ApiError(
                400,
                "invalid_request_error",
                f"The amount to capture ({_money(amount, intent['currency'])}) is greater than "
                f"the amount capturable ({_money(intent['amount_capturable'], intent['currency'])}).",
                code="amount_too_large",
                param="amount_to_capture",
                payment_intent=self._render(intent, []),
            )
        card = charge["payment_method_details"].get("card") or {}
        if not final and card.get("multicapture", {}).get("status") != "available":
            raise ApiError(
                400,
                "invalid_request_error",
                "final_capture=false can only be used when multicapture is available for this "
                "PaymentIntent.",
                param="final_capture",
                payment_intent=self._render(intent, []),
            )
        self.counts["payment_intents.capture", pi_id] += 1
        intent["metadata"] = metadata
        intent["amount_received"] += amount
        intent["amount_capturable"] -= amount
        charge["amount_captured"] += amount
        charge["captured"] = True
        if final or intent["amount_capturable"] == 0:
            self._release(intent)
            intent["status"] = "succeeded"
        return intent

    def _cancel_intent(self, params: dict[str, Any], pi_id: str) -> dict[str, Any]:
        """Cancel a PaymentIntent, releasing what is held."""
        intent = self._get(pi_id, "payment_intent")
        reason = _str_param(params, "cancellation_reason", CANCELLATION_REASONS)
        if intent["status"] not in CANCELABLE:
            raise self._unexpected_state(intent, "canceled", *CANCELABLE)
        self.counts["payment_intents.cancel", pi_id] += 1
        self._cancel(intent, reason)
        return intent

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        """Refund (part of) a captured payment."""
        pi_id = _str_param(params, "payment_intent")
        charge_id = _str_param(params, "charge")
        if not pi_id and not charge_id:
            raise _invalid(
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        if pi_id:
            intent = self._get(pi_id, "payment_intent", param="payment_intent", status=400)
            if charge_id and intent["latest_charge"] != charge_id:
                raise _invalid("The charge does not belong to this PaymentIntent.", param="charge")
        else:
            charge = self._get(charge_id or "", "charge", param="charge", status=400)
            intent = self._objects[charge["payment_intent"]]
        amount = _int_param(params, "amount")
        if amount is not None and amount < 1:
            raise _invalid(
                "Refund amount must be a positive integer.", code="amount_too_small", param="amount"
            )
        reason = _str_param(params, "reason", REFUND_REASONS)
        refund = self._refund(intent, amount, reason=reason, metadata=_metadata(params))
        self.counts["refunds.create", intent["id"]] += 1
        return refund

    def _list_refunds(self, params: dict[str, Any]) -> dict[str, Any]:
        """List refunds, newest first (``created`` range and ``starting_after`` paging)."""
        refunds = [
            r
            for r in reversed(self._objects.values())
            if r["object"] == "refund"
            and params.get("payment_intent") in (None, r["payment_intent"])
            and params.get("charge") in (None, r["charge"])
        ]
        return self._page(params, refunds, "/v1/refunds")

    def _list_payment_intents(self, params: dict[str, Any]) -> dict[str, Any]:
        """List PaymentIntents, newest first (``created`` range and ``starting_after`` paging)."""
        intents = [
            self._render(o, [])
            for o in reversed(self._objects.values())
            if o["object"] == "payment_intent"
        ]
        return self._page(params, intents, "/v1/payment_intents")

    def _page(self, params: dict[str, Any], objects: list[dict[str, Any]], url: str) -> dict:
        """One page of a list, as Stripe pages them: ``limit`` objects after ``starting_after``."""
        limit = _int_param(params, "limit", 10)
        assert limit is not None
        if not 1 <= limit <= 100:
            raise _invalid("Limit must be between 1 and 100.", param="limit")
        created = params.get("created")
        if isinstance(created, Mapping):
            bounds = {op: int(value) for op, value in created.items()}
            checks = {
                "gt": lambda t, b: t > b,
                "gte": lambda t, b: t >= b,
                "lt": lambda t, b: t < b,
                "lte": lambda t, b: t <= b,
            }
            objects = [
                o for o in objects if all(checks[op](o["created"], b) for op, b in bounds.items())
            ]
        elif created is not None:
            objects = [o for o in objects if o["created"] == int(created)]
        after = params.get("starting_after")
        if after:
            ids = [o["id"] for o in objects]
            if after not in ids:
                raise _invalid(f"No such object: '{after}'", param="starting_after")
            objects = objects[ids.index(after) + 1 :]
        return {
            "object": "list",
            "data": objects[:limit],
            "has_more": len(objects) > limit,
            "url": url,
        }

    def _approve_review(self, params: dict[str, Any], review_id: str) -> dict[str, Any]:
        """Approve an open Radar review."""
        review = self._get(review_id, "review")
        if not review["open"]:
            raise ApiError(
                400,
                "invalid_request_error",
                f"This review is already closed (closed_reason: {review['closed_reason']}).",
            )
        self.counts["reviews.approve", review_id] += 1
        self._close_review(review, "approved")
        return review

    # Payment flows --------------------------------------------------------------------

    def _require_action(
        self, intent: dict[str, Any], method: MethodBehaviour, return_url: str | None
    ) -> None:
        pi_id, secret = intent["id"], intent["client_secret"]
        intent["status"] = "requires_action"
        if method.type == "alipay":
            intent["next_action"] = {
                "type": "alipay_handle_redirect",
                "alipay_handle_redirect": {
                    "native_data": None,
                    "native_url": None,
                    "return_url": return_url,
                    "url": f"https://hooks.stripe.com/alipay/acct_fake/{pi_id}/authorize?client_secret={secret}",
                },
            }
        elif method.type == "paypal":
            intent["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {
                    "return_url": return_url,
                    "url": f"https://www.paypal.com/checkoutnow?token=FAKE{pi_id[-8:]}",
                },
            }
        elif return_url:
            intent["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {
                    "return_url": return_url,
                    "url": (
                        "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_fake"
                        f"&payment_intent={pi_id}&payment_intent_client_secret={secret}"
                        "&publishable_key=pk_test_fake"
                    ),
                },
            }
        else:
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {
                    "type": "three_d_secure_redirect",
                    "stripe_js": "https://hooks.stripe.com/3d_secure_2/hosted",
                },
            }

    def _authorize(
        self, intent: dict[str, Any], attempt: _Attempt, *, authenticated: bool = False
    ) -> None:
        """The payment method is approved: a charge, held (manual capture) or taken at once."""
        method = attempt.method
        kind_options = intent["payment_method_options"].get(method.type) or {}
        capture_method = kind_options.get("capture_method") or intent["capture_method"]
        manual = capture_method == "manual" and method.type != "alipay"  # Alipay: taken at once
        multicapture = (
            manual
            and method.type == "card"
            and self.multicapture
            and kind_options.get("request_multicapture") == "if_available"
        )
        charge = self._new_charge(intent, attempt, manual=manual)
        if method.type == "card":
            card = charge["payment_method_details"]["card"]
            card["multicapture"] = {"status": "available" if multicapture else "unavailable"}
            if manual:
                card["capture_before"] = self.now + CARD_AUTHORIZATION_DAYS * DAY
            if authenticated:
                card["three_d_secure"] = {
                    "authentication_flow": "challenge",
                    "electronic_commerce_indicator": "05",
                    "exemption_indicator": None,
                    "result": "authenticated",
                    "result_reason": None,
                    "transaction_id": f"fake-3ds-{intent['id']}",
                    "version": "2.2.0",
                }
        intent.update(
            latest_charge=charge["id"],
            payment_method=attempt.payment_method_id,
            next_action=None,
            last_payment_error=None,
        )
        if manual:
            intent.update(status="requires_capture", amount_capturable=intent["amount"])
        else:
            intent.update(status="succeeded", amount_received=intent["amount"])
        if method.elevated_risk:
            review_id = self._new_id("prv")
            self._objects[review_id] = {
                "id": review_id,
                "object": "review",
                "billing_zip": None,
                "charge": charge["id"],
                "closed_reason": None,
                "created": self.now,
                "ip_address": None,
                "ip_address_location": None,
                "livemode": False,
                "open": True,
                "opened_reason": "rule",
                "payment_intent": intent["id"],
                "reason": "rule",
                "session": None,
            }
            intent["review"] = charge["review"] = review_id

    def _decline(self, intent: dict[str, Any], attempt: _Attempt, decline: Decline) -> None:
        """The issuer declines: a failed charge, the PaymentIntent back to requires_payment_method, 402."""
        charge = self._new_charge(intent, attempt, manual=False, decline=decline)
        payment_method = self._render(self._objects[attempt.payment_method_id], [])
        error = {
            "charge": charge["id"],
            "code": decline.code,
            "decline_code": decline.decline_code,
            "doc_url": f"https://docs.stripe.com/error-codes/{decline.code.replace('_', '-')}",
            "message": decline.message,
            "payment_method": payment_method,
            "type": "card_error",
        }
        if decline.param:
            error["param"] = decline.param
        intent.update(
            status="requires_payment_method",
            latest_charge=charge["id"],
            payment_method=None,
            last_payment_error=error,
        )
        extra = {
            k: v
            for k, v in error.items()
            if k not in ("type", "message", "code", "param", "doc_url")
        }
        raise ApiError(
            402,
            "card_error",
            decline.message,
            code=decline.code,
            param=decline.param,
            payment_intent=self._render(intent, []),
            **extra,
        )

    def _fail_attempt(self, intent: dict[str, Any], code: str, message: str) -> None:
        attempt = self._attempts[intent["id"]]
        intent.update(
            status="requires_payment_method",
            next_action=None,
            payment_method=None,
            last_payment_error={
                "code": code,
                "doc_url": f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}",
                "message": message,
                "payment_method": self._render(self._objects[attempt.payment_method_id], []),
                "type": "invalid_request_error",
            },
        )

    def _release(self, intent: dict[str, Any]) -> None:
        """What is held and not captured goes back to the customer.

        Since 2025-03-31.basil the charge's ``amount_refunded`` no longer counts an
        uncaptured remainder released (or a hold that lapses): only real refunds.
        """
        intent["amount_capturable"] = 0

    def _cancel(self, intent: dict[str, Any], reason: str | None) -> None:
        self._release(intent)
        intent.update(
            status="canceled", canceled_at=self.now, cancellation_reason=reason, next_action=None
        )
        review = self._objects.get(intent["review"] or "")
        if review is not None and review["open"]:
            self._close_review(review, "canceled")

    def _refund(
        self,
        intent: dict[str, Any],
        amount: int | None,
        *,
        reason: str | None,
        metadata: dict[str, str],
    ) -> dict[str, Any]:
        charge = self._captured_charge(intent)
        refunded = sum(
            r["amount"]
            for r in self._refunds_of(charge["id"])
            if r["status"] not in ("failed", "canceled")
        )
        left = charge["amount_captured"] - refunded
        if left <= 0:
            raise ApiError(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
                charge=charge["id"],
            )
        amount = left if amount is None else amount
        if amount > left:
            raise ApiError(
                400,
                "invalid_request_error",
                f"Refund amount ({_money(amount, charge['currency'])}) is greater than unrefunded "
                f"amount on charge ({_money(left, charge['currency'])})",
                code="amount_too_large",
                param="amount",
                charge=charge["id"],
            )
        refund_id = self._new_id("re")
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": self.now,
            "currency": charge["currency"],
            "destination_details": None,
            "metadata": metadata,
            "payment_intent": intent["id"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": self.refund_status,
            "transfer_reversal": None,
        }
        self._objects[refund_id] = refund
        charge["amount_refunded"] += amount
        # Fully refunded: all that was captured (a released remainder is not a refund).
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        review = self._objects.get(charge["review"] or "")
        if charge["refunded"] and review is not None and review["open"]:
            self._close_review(
                review, "refunded_as_fraud" if reason == "fraudulent" else "refunded"
            )
        return refund

    def _close_review(self, review: dict[str, Any], reason: str) -> None:
        review.update(open=False, closed_reason=reason, reason=reason)

    def _lapsed(self, intent: dict[str, Any]) -> bool:
        if intent["id"] in self._expired:
            return True
        charge = self._objects[intent["latest_charge"]]
        capture_before = (charge["payment_method_details"].get("card") or {}).get("capture_before")
        return capture_before is not None and self.now >= capture_before

    def _captured_charge(self, intent: dict[str, Any]) -> dict[str, Any]:
        charge = self._objects.get(intent["latest_charge"] or "")
        if charge is None or charge["status"] != "succeeded" or not charge["amount_captured"]:
            raise ApiError(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund "
                "(an authorization that is not captured is released by canceling the PaymentIntent).",
            )
        return charge

    def _refunds_of(self, charge_id: str) -> list[dict[str, Any]]:
        return [
            o
            for o in self._objects.values()
            if o["object"] == "refund" and o["charge"] == charge_id
        ]

    def _unexpected_state(self, intent: dict[str, Any], verb: str, *allowed: str) -> ApiError:
        return ApiError(
            400,
            "invalid_request_error",
            f"This PaymentIntent could not be {verb} because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may be "
            f"{verb}: {', '.join(allowed)}.",
            code="payment_intent_unexpected_state",
            payment_intent=self._render(intent, []),
        )

    # Object builders ------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):012d}"

    def _billing_details(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        details: dict[str, Any] = {
            "address": {
                "city": "Paris",
                "country": "FR",
                "line1": "1 rue de Rivoli",
                "line2": None,
                "postal_code": "75001",
                "state": None,
            },
            "email": "buyer@example.com",
            "name": "Jenny Rosen",
            "phone": None,
            "tax_id": None,
        }
        details.update(given or {})
        return details

    def _method_details(self, method: MethodBehaviour, wallet: str | None) -> dict[str, Any]:
        """The ``card``/``paypal``/``alipay`` hash of a PaymentMethod (and of the token's preview)."""
        if method.type == "paypal":
            return {"country": "FR", "payer_email": "buyer@example.com", "payer_id": "FAKEPAYERID1"}
        if method.type == "alipay":
            return {}
        return {
            "brand": method.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": None,
            },
            "country": "FR",
            "display_brand": DISPLAY_BRANDS[method.brand],
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": f"Fake{method.brand}{method.last4}",
            "funding": "credit",
            "generated_from": None,
            "last4": method.last4,
            "networks": {"available": [method.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": self._wallet(wallet, method.last4),
        }

    @staticmethod
    def _wallet(wallet: str | None, last4: str) -> dict[str, Any] | None:
        return None if wallet is None else {"type": wallet, wallet: {}, "dynamic_last4": last4}

    def _new_payment_method(self, token: dict[str, Any]) -> str:
        preview = token["payment_method_preview"]
        pm_id = self._new_id("pm")
        self._objects[pm_id] = {
            "id": pm_id,
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": copy.deepcopy(preview["billing_details"]),
            "created": self.now,
            "customer": None,
            "livemode": False,
            "metadata": {},
            "type": preview["type"],
            preview["type"]: copy.deepcopy(preview[preview["type"]]),
        }
        return pm_id

    def _new_charge(
        self,
        intent: dict[str, Any],
        attempt: _Attempt,
        *,
        manual: bool,
        decline: Decline | None = None,
    ) -> dict[str, Any]:
        method = attempt.method
        charge_id = self._new_id("ch")
        amount = intent["amount"]
        captured = not manual and decline is None
        if method.type == "card":
            details: dict[str, Any] = {
                "amount_authorized": None if decline else amount,
                "authorization_code": None if decline else "123456",
                "brand": method.brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "fail" if decline and decline.code == "incorrect_cvc" else "pass",
                },
                "country": "FR",
                "exp_month": 12,
                "exp_year": 2034,
                "extended_authorization": {"status": "disabled"},
                "fingerprint": f"Fake{method.brand}{method.last4}",
                "funding": "credit",
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": method.last4,
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": method.brand,
                "network_token": {"used": False},
                "network_transaction_id": f"FAKE{next(self._ids):010d}",
                "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
                "regulated_status": "unregulated",
                "three_d_secure": None,
                "wallet": self._wallet(attempt.wallet, method.last4),
            }
        elif method.type == "paypal":
            details = {
                "country": "FR",
                "payer_email": "buyer@example.com",
                "payer_id": "FAKEPAYERID1",
                "payer_name": "Jenny Rosen",
                "seller_protection": {
                    "dispute_categories": ["product_not_received", "fraudulent"],
                    "status": "eligible",
                },
                "transaction_id": f"FAKEPAYPAL{next(self._ids):08d}",
            }
        else:
            details = {
                "buyer_id": "2088000000000000",
                "fingerprint": "FakeAlipayBuyer",
                "transaction_id": f"FAKEALIPAY{next(self._ids):08d}",
            }
        if decline is not None:
            outcome = {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "declined_by_network",
                "reason": decline.decline_code,
                "risk_level": "normal",
                "risk_score": 20,
                "seller_message": (
                    "The bank did not return any further details with this decline."
                    if decline.decline_code == "generic_decline"
                    else f"The bank returned the decline code `{decline.decline_code}`."
                ),
                "type": "issuer_declined",
            }
        elif method.elevated_risk:
            outcome = {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "approved_by_network",
                "reason": "elevated_risk_level",
                "risk_level": "elevated",
                "risk_score": 74,
                "seller_message": "Stripe evaluated this payment as having elevated risk, and "
                "placed it in your manual review queue.",
                "type": "manual_review",
            }
        else:
            outcome = {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal" if method.type == "card" else "not_assessed",
                "risk_score": 20 if method.type == "card" else None,
                "seller_message": "Payment complete.",
                "type": "authorized",
            }
        charge = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if captured else 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": None,
            "billing_details": copy.deepcopy(
                self._objects[attempt.payment_method_id]["billing_details"]
            ),
            "calculated_statement_descriptor": "FAKE SHOP",
            "captured": captured,
            "created": self.now,
            "currency": intent["currency"],
            "customer": None,
            "description": intent["description"],
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": decline.code if decline else None,
            "failure_message": decline.message if decline else None,
            "fraud_details": {},
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "on_behalf_of": None,
            "outcome": outcome,
            "paid": decline is None,
            "payment_intent": intent["id"],
            "payment_method": attempt.payment_method_id,
            "payment_method_details": {"type": method.type, method.type: details},
            "radar_options": {},
            "receipt_email": intent["receipt_email"],
            "receipt_number": None,
            "receipt_url": f"https://pay.stripe.com/receipts/payment/fake/{charge_id}",
            "refunded": False,
            "review": None,
            "shipping": None,
            "source": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": intent["statement_descriptor_suffix"],
            "status": "failed" if decline else "succeeded",
            "transfer_data": None,
            "transfer_group": None,
        }
        self._objects[charge_id] = charge
        return charge

    # Lookup and rendering ---------------------------------------------------------------

    def _get(
        self, object_id: str, kind: str, *, param: str = "id", status: int = 404
    ) -> dict[str, Any]:
        obj = self._objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise ApiError(
                status,
                "invalid_request_error",
                f"No such {NOT_FOUND_NAMES[kind]}: '{object_id}'",
                code="resource_missing",
                param="intent" if kind == "payment_intent" and param == "id" else param,
                store=False,
            )
        return obj

    def _control(self, pi_id: str, status: str | None = None) -> dict[str, Any]:
        intent = self._objects.get(pi_id)
        if intent is None or intent["object"] != "payment_intent":
            raise KeyError(f"no PaymentIntent {pi_id!r} in the fake")
        if status is not None and intent["status"] != status:
            raise ValueError(f"{pi_id} is {intent['status']}, not {status}")
        return intent

    def _render(self, obj: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        """A deep copy of ``obj`` with the ``expand`` paths (``latest_charge.review``…) expanded."""
        result = copy.deepcopy(obj)
        for path in expand:
            target = result
            for name in path.split("."):
                target = self._expand_field(target, name, path)
                if target is None:
                    break
        return result

    def _expand_field(self, obj: dict[str, Any], name: str, path: str) -> dict[str, Any] | None:
        if obj.get("object") == "list":
            raise _invalid(f"This property cannot be expanded ({path}).", param="expand")
        if name == "refunds" and obj.get("object") == "charge":
            refunds = self._refunds_of(obj["id"])
            obj["refunds"] = {
                "object": "list",
                "data": [copy.deepcopy(r) for r in reversed(refunds)],
                "has_more": False,
                "url": f"/v1/charges/{obj['id']}/refunds",
            }
            return None
        if name not in EXPANDABLE or name not in obj:
            raise _invalid(f"This property cannot be expanded ({path}).", param="expand")
        value = obj[name]
        if isinstance(value, str):
            value = obj[name] = copy.deepcopy(self._objects[value])
        return value
