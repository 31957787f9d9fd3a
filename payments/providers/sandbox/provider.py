"""The shop's client for the sandbox service: the same interface a real provider has.

No ORM here: it calls ``gateway`` as it would call a remote API and turns
answers into the provider dataclasses and errors into ``payments.exceptions``.
"""

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from payments.exceptions import (
    IdempotencyConflict,
    PaymentDeclined,
    PaymentError,
    ProviderRejected,
)
from payments.providers.base import (
    ApproveReviewRequest,
    ApproveReviewResult,
    AuthorizeRequest,
    AuthorizeResult,
    CaptureRequest,
    CaptureResult,
    CardDetails,
    CardSessionRequest,
    CardSessionResult,
    CompletedCardSession,
    PaymentProvider,
    ProviderRecord,
    RefundRequest,
    RefundResult,
    VoidRequest,
    VoidResult,
)
from payments.providers.sandbox import gateway
from payments.providers.sandbox.gateway import SandboxError


def _as_payment_error(error: SandboxError) -> PaymentError:
    if error.kind == "declined":
        return PaymentDeclined(str(error), code=error.code)
    if error.kind == "conflict":
        return IdempotencyConflict(str(error), code=error.code)
    return ProviderRejected(str(error), code=error.code)


def _call(endpoint: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
    """Call the sandbox service as a client calls an API: its errors become payment errors.

    ``SANDBOX_LATENCY_MS`` makes each call wait as a round trip to a remote
    service would (callers hold no lock during a provider call).
    """
    if settings.SANDBOX_LATENCY_MS:
        time.sleep(settings.SANDBOX_LATENCY_MS / 1000)
    try:
        return endpoint(**params)
    except SandboxError as error:
        raise _as_payment_error(error) from error


def _card(data: dict[str, Any]) -> CardDetails:
    return CardDetails(
        brand=data["brand"],
        last4=data["last4"],
        exp_month=data["exp_month"],
        exp_year=data["exp_year"],
    )


def _authorization(answer: dict[str, Any]) -> AuthorizeResult:
    return AuthorizeResult(
        provider_reference=answer["id"],
        authorized_amount=answer["authorized_amount"],
        card=_card(answer["card"]),
        expires_at=datetime.fromisoformat(answer["expires_at"]),
        in_review=answer["review"] == "open",
        action_url=answer["next_action_url"],
        captured_amount=answer["captured_amount"],
    )


class SandboxProvider(PaymentProvider):
    name = "sandbox"
    is_test_mode = True

    def create_card_session(self, request: CardSessionRequest) -> CardSessionResult:
        answer = gateway.session_create(
            amount=request.amount,
            currency=request.currency,
            return_url=request.return_url,
            cancel_url=request.cancel_url,
            language=request.language,
            method=request.method,
        )
        return CardSessionResult(
            session_id=answer["id"],
            redirect_url=reverse("sandbox:card_form", kwargs={"session_id": answer["id"]}),
        )

    def retrieve_card_session(self, session_id: str) -> CompletedCardSession | None:
        answer = gateway.session_retrieve(session_id)
        if answer is None or answer["token"] is None:
            return None
        return CompletedCardSession(
            session_id=answer["id"],
            payment_token=answer["token"]["id"],
            card=_card(answer["token"]["card"]),
            method=answer["method"],
        )

    def authorize(self, request: AuthorizeRequest) -> AuthorizeResult:
        answer = _call(
            gateway.authorize,
            token=request.payment_token,
            amount=request.amount,
            currency=request.currency,
            order_reference=request.order_reference,
            idempotency_key=request.idempotency_key,
            method=request.method,
            return_url=request.return_url,
        )
        return _authorization(answer)

    def retrieve_authorization(self, provider_reference: str) -> AuthorizeResult:
        answer = _call(gateway.charge_retrieve, charge_id=provider_reference)
        if answer["status"] == "declined":
            raise PaymentDeclined("The authorization was refused.", code=answer["decline_code"])
        return _authorization(answer)

    def capture(self, request: CaptureRequest) -> CaptureResult:
        answer = _call(
            gateway.capture,
            charge_id=request.provider_reference,
            amount=request.amount,
            currency=request.currency,
            final=request.final,
            idempotency_key=request.idempotency_key,
        )
        return CaptureResult(
            provider_reference=answer["id"], captured_amount=answer["captured_now"]
        )

    def approve_review(self, request: ApproveReviewRequest) -> ApproveReviewResult:
        answer = _call(
            gateway.review_approve,
            charge_id=request.provider_reference,
            idempotency_key=request.idempotency_key,
        )
        return ApproveReviewResult(provider_reference=answer["id"])

    def void(self, request: VoidRequest) -> VoidResult:
        answer = _call(
            gateway.void,
            charge_id=request.provider_reference,
            idempotency_key=request.idempotency_key,
        )
        return VoidResult(provider_reference=answer["id"], released_amount=answer["released_now"])

    def refund(self, request: RefundRequest) -> RefundResult:
        answer = _call(
            gateway.refund,
            charge_id=request.provider_reference,
            amount=request.amount,
            currency=request.currency,
            idempotency_key=request.idempotency_key,
        )
        return RefundResult(provider_reference=answer["id"], refunded_amount=answer["refunded_now"])

    def list_records(self, *, since: datetime, until: datetime) -> list[ProviderRecord]:
        return [
            ProviderRecord(
                kind=movement["kind"],
                payment_reference=movement["charge"],
                reference=movement["idempotency_key"] or movement["charge"],
                operation=movement["idempotency_key"],
                amount=movement["amount"],
                currency=movement["currency"],
                total=movement["total"],
            )
            for movement in gateway.movements_list(created_gte=since, created_lt=until)
        ]
