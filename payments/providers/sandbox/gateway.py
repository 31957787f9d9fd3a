"""The sandbox payment service itself: the "remote" side, in process and offline.

It enforces what a real service enforces: single-use tokens, no capture
above what is authorized or after a void or expiry, no refund above what was
captured, and idempotency keys (same key and parameters: the first answer
again; same key with other parameters: an error). The shop never calls this
module directly: ``provider.SandboxProvider`` does, as a client would call an
HTTP API.
"""

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from payments.methods import authorization_validity, is_paid_at_order
from payments.providers.sandbox.models import (
    SandboxCapture,
    SandboxCardSession,
    SandboxCardToken,
    SandboxCharge,
    SandboxIdempotencyRecord,
)
from payments.providers.sandbox.testcards import TEST_CARDS, Behaviour


class SandboxError(Exception):
    """An error answer of the sandbox service (what would be an HTTP 4xx)."""

    def __init__(self, kind: str, code: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "declined", "invalid" or "conflict"
        self.code = code

    def as_response(self) -> dict[str, Any]:
        return {"error": {"kind": self.kind, "code": self.code, "message": str(self)}}


def _fingerprint(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def _idempotent(
    key: str, operation: str, params: dict[str, Any], perform: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``perform`` once per key and replay its answer (or error) afterwards.

    The first call performs and records its answer in one transaction; the
    key's unique constraint refuses any later (or concurrent) record, which
    rolls that call's work back and replays the first answer instead.
    """
    fingerprint = _fingerprint({"operation": operation, **params})
    for _attempt in range(3):
        try:
            with transaction.atomic():
                try:
                    response = perform()
                except SandboxError as error:
                    response = error.as_response()
                SandboxIdempotencyRecord.objects.create(
                    key=key, operation=operation, fingerprint=fingerprint, response=response
                )
        except IntegrityError:
            record = SandboxIdempotencyRecord.objects.filter(key=key).first()
            if record is None:
                continue  # not ours, and the key's first call has not committed: ask again
            if record.fingerprint != fingerprint:
                raise SandboxError(
                    "conflict",
                    "idempotency_key_reused",
                    f"Key {key!r} was already used with other parameters.",
                ) from None
            response = record.response
        if "error" in response:
            error = response["error"]
            raise SandboxError(error["kind"], error["code"], error["message"])
        return response
    raise SandboxError("invalid", "idempotency_race", f"Key {key!r} is being processed.")


# Hosted card form ---------------------------------------------------------


def session_create(
    *,
    amount: int,
    currency: str,
    return_url: str,
    cancel_url: str,
    language: str,
    method: str = "card",
) -> dict[str, Any]:
    session = SandboxCardSession.objects.create(
        amount=amount,
        currency=currency,
        return_url=return_url,
        cancel_url=cancel_url,
        language=language,
        method=method,
    )
    return {"id": session.id}


def _well_formed(object_id: str, prefix: str) -> bool:
    """Whether ``object_id`` looks like one of ours (an unknown one is then looked up).

    A real service answers "no such object" to anything else, NUL bytes included,
    which PostgreSQL would refuse in a query.
    """
    return re.fullmatch(rf"{prefix}_[0-9a-f]{{1,36}}", object_id) is not None


def session_get(session_id: str) -> SandboxCardSession | None:
    """The session, for the sandbox's own hosted page."""
    if not _well_formed(session_id, "cs"):
        return None
    return SandboxCardSession.objects.select_related("token").filter(pk=session_id).first()


def session_retrieve(session_id: str) -> dict[str, Any] | None:
    """The session as the API answers it to the shop."""
    session = session_get(session_id)
    if session is None:
        return None
    token = session.token
    return {
        "id": session.id,
        "status": session.status,
        "method": session.method,
        "token": None
        if token is None
        else {
            "id": token.id,
            "card": {
                "brand": token.brand,
                "last4": token.last4,
                "exp_month": token.exp_month,
                "exp_year": token.exp_year,
            },
        },
    }


@sensitive_variables("number")
def session_complete(
    *, session_id: str, number: str, brand: str, exp_month: int, exp_year: int
) -> SandboxCardToken:
    """Attach a token for a validated card to an open session; returns the token.

    The number is used only to find its test behaviour and last four digits;
    it is not stored. The security code never reaches this function: the
    form checks it and drops it.
    """
    test_card = TEST_CARDS.get(number)
    if test_card is None:
        raise SandboxError("invalid", "not_a_test_card", "Only test cards work in test mode.")
    with transaction.atomic():
        token = SandboxCardToken.objects.create(
            brand=brand,
            last4=number[-4:],
            exp_month=exp_month,
            exp_year=exp_year,
            behaviour=test_card.behaviour,
        )
        # Completed only if still open (the row is locked by the UPDATE): a session
        # completed meanwhile keeps its token, and this one is rolled back.
        completed = SandboxCardSession.objects.filter(
            pk=session_id, status=SandboxCardSession.Status.OPEN
        ).update(token=token, status=SandboxCardSession.Status.COMPLETED)
        if not completed:
            raise SandboxError("invalid", "session_closed", "This session was already used.")
    return token


# The card a test phone keeps in its wallet.
WALLET_CARD = {"brand": "Visa", "last4": "1881", "exp_month": 12, "exp_year": 2030}


def session_complete_wallet(*, session_id: str) -> SandboxCardSession:
    """The shopper confirmed the wallet sheet (or approved on PayPal's or Alipay's page).

    A wallet pays with the phone's card, typed nowhere; PayPal and Alipay
    pay from the shopper's account there, so the token has no card digits.
    """
    with transaction.atomic():
        session = SandboxCardSession.objects.select_for_update().get(pk=session_id)
        if session.status != SandboxCardSession.Status.OPEN:
            raise SandboxError("invalid", "session_closed", "This session was already used.")
        outline = (
            WALLET_CARD
            if session.method in ("apple_pay", "google_pay")
            else {"brand": "", "last4": "", "exp_month": 0, "exp_year": 0}
        )
        session.token = SandboxCardToken.objects.create(behaviour=Behaviour.APPROVE, **outline)
        session.status = SandboxCardSession.Status.COMPLETED
        session.save(update_fields=["token", "status"])
    return session


# Money ----------------------------------------------------------------------

DECLINES = {
    Behaviour.DECLINE: ("card_declined", "The card was declined."),
    Behaviour.INSUFFICIENT_FUNDS: ("insufficient_funds", "The card has insufficient funds."),
    Behaviour.INCORRECT_CVC: ("incorrect_cvc", "The card's security code is incorrect."),
    Behaviour.EXPIRED_CARD: ("expired_card", "The card has expired."),
}


def _charge_response(charge: SandboxCharge) -> dict[str, Any]:
    token = charge.token
    return {
        "id": charge.id,
        "status": charge.status,
        "decline_code": charge.decline_code,
        "next_action_url": (
            reverse("sandbox:challenge", kwargs={"charge_id": charge.id})
            if charge.status == SandboxCharge.Status.REQUIRES_ACTION
            else ""
        ),
        "authorized_amount": charge.authorized_amount,
        "captured_amount": charge.captured_amount,
        "refunded_amount": charge.refunded_amount,
        "currency": charge.currency,
        "review": charge.review,
        "expires_at": charge.expires_at.isoformat(),
        "card": {
            "brand": token.brand,
            "last4": token.last4,
            "exp_month": token.exp_month,
            "exp_year": token.exp_year,
        },
    }


def _token_usable(token_id: str) -> None:
    """Raise the error an unknown or already used card token gets."""
    used_at = SandboxCardToken.objects.filter(pk=token_id).values_list("used_at", flat=True)
    if not used_at:
        raise SandboxError("invalid", "token_not_found", "No such card token.")
    if used_at[0] is not None:
        raise SandboxError("invalid", "token_already_used", "This card token was used.")


_TOKEN_COLUMNS = ("id", "brand", "last4", "exp_month", "exp_year", "behaviour")
# SandboxCardToken's table and columns (a test checks them against the model).
MARK_CARD_USED_SQL = (
    'UPDATE "sandbox_sandboxcardtoken" SET "used_at" = %s WHERE "id" = %s AND "used_at" IS NULL '
    'RETURNING "id", "brand", "last4", "exp_month", "exp_year", "behaviour"'
)


def _use_token(token_id: str, now: datetime) -> SandboxCardToken:
    """Mark a card token used and read it, in one statement: a token is used once.

    ``UPDATE … WHERE used_at IS NULL RETURNING`` (PostgreSQL and SQLite): of two
    authorizations racing for a token, the second finds it used.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            MARK_CARD_USED_SQL, [connection.ops.adapt_datetimefield_value(now), token_id]
        )
        row = cursor.fetchone()
    if row is None:
        _token_usable(token_id)
        raise SandboxError("invalid", "token_already_used", "This card token was used.")
    return SandboxCardToken(**dict(zip(_TOKEN_COLUMNS, row, strict=True)), used_at=now)


def authorize(
    *,
    token: str,
    amount: int,
    currency: str,
    order_reference: str,
    idempotency_key: str,
    method: str = "card",
    return_url: str = "",
) -> dict[str, Any]:
    """Authorize with a card token; a 3-D Secure card answers ``requires_action`` first."""

    def perform() -> dict[str, Any]:
        now = timezone.now()
        if amount <= 0:
            _token_usable(token)  # an unknown or used token is said first
            raise SandboxError("invalid", "amount_invalid", "The amount must be positive.")
        card = _use_token(token, now)
        decline = DECLINES.get(card.behaviour)
        if decline:
            status = SandboxCharge.Status.DECLINED
        elif card.behaviour == Behaviour.THREE_DS:
            status = SandboxCharge.Status.REQUIRES_ACTION
        elif is_paid_at_order(method):
            status = SandboxCharge.Status.CAPTURED
        else:
            status = SandboxCharge.Status.AUTHORIZED
        charge = SandboxCharge.objects.create(
            token=card,
            order_reference=order_reference,
            currency=currency,
            authorized_amount=0 if decline else amount,
            captured_amount=amount if status == SandboxCharge.Status.CAPTURED else 0,
            status=status,
            return_url=return_url,
            decline_code=decline[0] if decline else "",
            review="open" if card.behaviour == Behaviour.REVIEW else "",
            expires_at=now + authorization_validity(method),
        )
        if decline:
            raise SandboxError("declined", *decline)
        return _charge_response(charge)

    params = {"token": token, "amount": amount, "currency": currency}
    return _idempotent(idempotency_key, "authorize", params, perform)


def charge_retrieve(*, charge_id: str) -> dict[str, Any]:
    """The charge as it is now (after a 3-D Secure challenge, for instance)."""
    charge = SandboxCharge.objects.select_related("token").filter(pk=charge_id).first()
    if charge is None:
        raise SandboxError("invalid", "charge_not_found", "No such charge.")
    return _charge_response(charge)


def challenge_get(charge_id: str) -> SandboxCharge | None:
    """The charge behind a challenge page, for the sandbox's own page."""
    if not _well_formed(charge_id, "ch"):
        return None
    return SandboxCharge.objects.filter(pk=charge_id).first()


def charge_language(charge: SandboxCharge) -> str:
    """The language the shopper used on the card form, for the bank's page."""
    session = SandboxCardSession.objects.filter(token_id=charge.token_id).first()
    return session.language if session else "fr"


def challenge_complete(*, charge_id: str, outcome: str) -> SandboxCharge:
    """The shopper's answer on the challenge page: "approve", "fail" or "abandon"."""
    with transaction.atomic():
        charge = _lock_charge(charge_id)
        if charge.status != SandboxCharge.Status.REQUIRES_ACTION:
            return charge
        if outcome == "approve":
            charge.status = SandboxCharge.Status.AUTHORIZED
        else:
            charge.status = SandboxCharge.Status.DECLINED
            charge.authorized_amount = 0
            charge.decline_code = (
                "authentication_failed" if outcome == "fail" else "authentication_abandoned"
            )
        charge.save(update_fields=["status", "authorized_amount", "decline_code"])
    return charge


def _lock_charge(charge_id: str) -> SandboxCharge:
    charge = SandboxCharge.objects.select_for_update().filter(pk=charge_id).first()
    if charge is None:
        raise SandboxError("invalid", "charge_not_found", "No such charge.")
    return charge


def capture(
    *, charge_id: str, amount: int, currency: str, final: bool, idempotency_key: str
) -> dict[str, Any]:
    def perform() -> dict[str, Any]:
        charge = _lock_charge(charge_id)
        if charge.status != SandboxCharge.Status.AUTHORIZED:
            raise SandboxError(
                "invalid", "charge_not_capturable", f"The charge is {charge.status}."
            )
        if timezone.now() >= charge.expires_at:
            raise SandboxError("invalid", "authorization_expired", "The authorization expired.")
        if charge.review == "open":
            raise SandboxError("invalid", "charge_in_review", "The charge is in fraud review.")
        if currency != charge.currency:
            raise SandboxError("invalid", "currency_mismatch", "Currency differs.")
        if charge.token.behaviour == Behaviour.CAPTURE_FAILS:
            raise SandboxError("declined", "capture_declined", "The issuer declined the capture.")
        if amount <= 0 or charge.captured_amount + amount > charge.authorized_amount:
            raise SandboxError(
                "invalid", "amount_too_large", "The amount exceeds what is left to capture."
            )
        SandboxCapture.objects.create(
            charge=charge,
            kind=SandboxCapture.Kind.CAPTURE,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        charge.captured_amount += amount
        if final or charge.captured_amount == charge.authorized_amount:
            charge.status = SandboxCharge.Status.CAPTURED
        charge.save(update_fields=["captured_amount", "status"])
        return _charge_response(charge) | {"captured_now": amount}

    params = {"charge": charge_id, "amount": amount, "currency": currency, "final": final}
    return _idempotent(idempotency_key, "capture", params, perform)


def review_approve(*, charge_id: str, idempotency_key: str) -> dict[str, Any]:
    """Close an open fraud review as approved: the charge can then be captured."""

    def perform() -> dict[str, Any]:
        charge = _lock_charge(charge_id)
        if charge.review != "open" or charge.status != SandboxCharge.Status.AUTHORIZED:
            raise SandboxError("invalid", "no_open_review", "The charge has no open review.")
        charge.review = "approved"
        charge.save(update_fields=["review"])
        return _charge_response(charge)

    return _idempotent(idempotency_key, "review_approve", {"charge": charge_id}, perform)


def void(*, charge_id: str, idempotency_key: str) -> dict[str, Any]:
    def perform() -> dict[str, Any]:
        charge = _lock_charge(charge_id)
        if charge.status == SandboxCharge.Status.REQUIRES_ACTION:
            # Still waiting for 3-D Secure: nothing is held, and the challenge closes.
            charge.status = SandboxCharge.Status.VOIDED
            charge.save(update_fields=["status"])
            return _charge_response(charge) | {"released_now": 0}
        if charge.status != SandboxCharge.Status.AUTHORIZED:
            raise SandboxError("invalid", "charge_not_voidable", f"The charge is {charge.status}.")
        released = charge.authorized_amount - charge.captured_amount
        charge.status = (
            SandboxCharge.Status.CAPTURED if charge.captured_amount else SandboxCharge.Status.VOIDED
        )
        charge.save(update_fields=["status"])
        return _charge_response(charge) | {"released_now": released}

    return _idempotent(idempotency_key, "void", {"charge": charge_id}, perform)


def refund(*, charge_id: str, amount: int, currency: str, idempotency_key: str) -> dict[str, Any]:
    def perform() -> dict[str, Any]:
        charge = _lock_charge(charge_id)
        if currency != charge.currency:
            raise SandboxError("invalid", "currency_mismatch", "Currency differs.")
        if amount <= 0 or charge.refunded_amount + amount > charge.captured_amount:
            raise SandboxError(
                "invalid", "amount_too_large", "The amount exceeds what was captured."
            )
        SandboxCapture.objects.create(
            charge=charge,
            kind=SandboxCapture.Kind.REFUND,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        charge.refunded_amount += amount
        charge.save(update_fields=["refunded_amount"])
        return _charge_response(charge) | {"refunded_now": amount}

    params = {"charge": charge_id, "amount": amount, "currency": currency}
    return _idempotent(idempotency_key, "refund", params, perform)


def movements_list(*, created_gte: datetime, created_lt: datetime) -> list[dict[str, Any]]:
    """Captures and refunds made in the period, and charges taken at once (Alipay)."""
    movements = [
        {
            "kind": movement.kind,
            "charge": movement.charge_id,
            "amount": movement.amount,
            "currency": movement.charge.currency,
            "idempotency_key": movement.idempotency_key,
            "total": False,
        }
        for movement in SandboxCapture.objects.filter(
            created_at__gte=created_gte, created_at__lt=created_lt
        )
        .select_related("charge")
        .order_by("pk")
    ]
    paid_at_order = (
        SandboxCharge.objects.filter(
            created_at__gte=created_gte, created_at__lt=created_lt, captured_amount__gt=0
        )
        .exclude(movements__kind=SandboxCapture.Kind.CAPTURE)
        .order_by("pk")
    )
    movements += [
        {
            "kind": SandboxCapture.Kind.CAPTURE,
            "charge": charge.pk,
            "amount": charge.captured_amount,
            "currency": charge.currency,
            "idempotency_key": "",
            "total": True,
        }
        for charge in paid_at_order
    ]
    return movements
