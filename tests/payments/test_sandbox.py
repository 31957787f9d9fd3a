"""The sandbox enforces what a real payment service enforces."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.exceptions import IdempotencyConflict, PaymentDeclined, ProviderRejected
from payments.providers.base import AuthorizeRequest, CaptureRequest, RefundRequest, VoidRequest
from payments.providers.sandbox import gateway
from payments.providers.sandbox.models import SandboxCapture, SandboxCardToken, SandboxCharge
from payments.providers.sandbox.provider import SandboxProvider
from payments.providers.sandbox.testcards import detect_brand, luhn_valid
from tests.helpers import APPROVED_VISA, DECLINED, INSUFFICIENT_FUNDS, card_token

pytestmark = pytest.mark.django_db
provider = SandboxProvider()


def authorize(number=APPROVED_VISA, amount=10000, key="auth-1"):
    token, _card = card_token(number)
    return provider.authorize(
        AuthorizeRequest(
            amount=amount,
            currency="EUR",
            payment_token=token,
            order_reference="ORDER1",
            idempotency_key=key,
        )
    )


def capture(reference, amount, key, final=False):
    return provider.capture(
        CaptureRequest(
            provider_reference=reference,
            amount=amount,
            currency="EUR",
            idempotency_key=key,
            final=final,
        )
    )


def test_an_authorization_holds_for_seven_days():
    result = authorize()
    assert result.authorized_amount == 10000
    assert result.card.last4 == "4242"
    delta = result.expires_at - timezone.now()
    assert timedelta(days=6, hours=23) < delta <= timedelta(days=7)


@pytest.mark.parametrize(
    ("number", "code"), [(DECLINED, "card_declined"), (INSUFFICIENT_FUNDS, "insufficient_funds")]
)
def test_declining_cards(number, code):
    with pytest.raises(PaymentDeclined) as error:
        authorize(number)
    assert error.value.code == code


def test_a_token_is_single_use():
    token, _card = card_token()
    request = dict(amount=100, currency="EUR", payment_token=token, order_reference="A")
    provider.authorize(AuthorizeRequest(**request, idempotency_key="k1"))
    with pytest.raises(ProviderRejected, match="used"):
        provider.authorize(AuthorizeRequest(**request, idempotency_key="k2"))


def test_an_authorization_marks_its_token_used_and_an_unknown_token_is_refused():
    token, _card = card_token()
    provider.authorize(
        AuthorizeRequest(
            amount=100,
            currency="EUR",
            payment_token=token,
            order_reference="A",
            idempotency_key="k1",
        )
    )
    assert SandboxCardToken.objects.get(pk=token).used_at is not None
    for amount in (100, 0):  # an unknown token is said before a bad amount
        with pytest.raises(ProviderRejected, match="No such card token"):
            provider.authorize(
                AuthorizeRequest(
                    amount=amount,
                    currency="EUR",
                    payment_token="tok_0123456789abcdef",
                    order_reference="A",
                    idempotency_key=f"unknown-{amount}",
                )
            )


def test_the_statement_marking_a_token_used_names_the_model_s_table_and_columns():
    meta = SandboxCardToken._meta
    columns = {field.column for field in meta.concrete_fields}
    named = set(re.findall(r'"(\w+)"', gateway.MARK_CARD_USED_SQL))
    assert meta.db_table in named
    assert named - {meta.db_table} <= columns


def test_same_key_same_answer_and_other_parameters_an_error():
    auth = authorize()
    first = capture(auth.provider_reference, 4000, "cap-1")
    again = capture(auth.provider_reference, 4000, "cap-1")

    assert first == again
    assert SandboxCapture.objects.count() == 1
    with pytest.raises(IdempotencyConflict):
        capture(auth.provider_reference, 5000, "cap-1")


def test_a_declined_answer_is_replayed_for_its_key():
    token, _card = card_token(DECLINED)
    request = AuthorizeRequest(
        amount=100, currency="EUR", payment_token=token, order_reference="A", idempotency_key="d"
    )
    for _ in range(2):
        with pytest.raises(PaymentDeclined):
            provider.authorize(request)


def test_no_capture_above_what_is_authorized():
    auth = authorize(amount=10000)
    capture(auth.provider_reference, 6000, "cap-1")
    with pytest.raises(ProviderRejected, match="exceeds"):
        capture(auth.provider_reference, 4001, "cap-2")
    capture(auth.provider_reference, 4000, "cap-3")
    assert SandboxCharge.objects.get().status == SandboxCharge.Status.CAPTURED


def test_a_final_capture_releases_the_rest():
    auth = authorize(amount=10000)
    capture(auth.provider_reference, 6000, "cap-1", final=True)
    with pytest.raises(ProviderRejected):
        capture(auth.provider_reference, 100, "cap-2")


def test_no_capture_after_a_void():
    auth = authorize()
    released = provider.void(
        VoidRequest(provider_reference=auth.provider_reference, idempotency_key="v")
    )
    assert released.released_amount == 10000
    with pytest.raises(ProviderRejected):
        capture(auth.provider_reference, 100, "cap-1")


def test_no_capture_after_the_authorization_expired():
    auth = authorize()
    SandboxCharge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ProviderRejected) as error:
        capture(auth.provider_reference, 100, "cap-1")
    assert error.value.code == "authorization_expired"


def test_no_refund_above_what_was_captured():
    auth = authorize()
    capture(auth.provider_reference, 3000, "cap-1")

    def refund(amount, key):
        return provider.refund(
            RefundRequest(
                provider_reference=auth.provider_reference,
                amount=amount,
                currency="EUR",
                idempotency_key=key,
            )
        )

    assert refund(2000, "ref-1").refunded_amount == 2000
    with pytest.raises(ProviderRejected):
        refund(1001, "ref-2")
    assert refund(1000, "ref-3").refunded_amount == 1000


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "Visa"),
        ("5555555555554444", "Mastercard"),
        ("2223003122003222", "Mastercard"),
        ("378282246310005", "American Express"),
        ("6011111111111117", None),
        ("3530111333300000", None),
    ],
)
def test_brand_detection(number, brand):
    assert luhn_valid(number)
    assert detect_brand(number) == brand


def test_luhn_rejects_a_typo():
    assert not luhn_valid("4242424242424241")
    assert not luhn_valid("abcd")
