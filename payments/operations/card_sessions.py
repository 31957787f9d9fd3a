"""Card sessions: the provider's card form, bound to the checkout that opened it.

A card session id (sandbox ``cs_…``) or a ConfirmationToken id (Stripe
``ctoken_…``) travels in the return URL's query string, so it can land in
access logs and browser history. It is worth nothing to anyone else: the
session is recorded with the checkout's token (``reference``) when it is
opened, the token it gives is claimed by that checkout when the shopper comes
back (a token claimed once is never claimed by another checkout), and both
the return and the placing of the order check that binding and its age
(``PAYMENTS_CARD_SESSION_MINUTES``, 30 by default). Anything else raises
``CardSessionRefused``: no order, no authorization.
"""

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from payments.exceptions import CardSessionRefused
from payments.models import CardSession
from payments.providers import get_provider
from payments.providers.base import CardSessionRequest, CardSessionResult, CompletedCardSession

# Rows are kept this long after they expire (a shopper's late return is then
# told "expired", not "unknown"), then purged.
KEPT_AFTER_EXPIRY = timedelta(days=1)


def _lifetime() -> timedelta:
    return timedelta(minutes=settings.PAYMENTS_CARD_SESSION_MINUTES)


def payment_card_session_start(
    *,
    reference: str,
    amount: int,
    currency: str,
    return_url: str,
    cancel_url: str,
    language: str,
    method: str = "card",
) -> CardSessionResult:
    """Open the provider's hosted card form (or wallet sheet) for the checkout ``reference``."""
    result = get_provider().create_card_session(
        CardSessionRequest(
            amount=amount,
            currency=currency,
            return_url=return_url,
            cancel_url=cancel_url,
            language=language,
            method=method,
        )
    )
    now = timezone.now()
    CardSession.objects.create(
        reference=reference,
        provider=settings.PAYMENTS_PROVIDER,
        session_id=result.session_id if result.returns_session_id else "",
        expires_at=now + _lifetime(),
    )
    return result


def payment_card_sessions_purge_expired(
    *, now: datetime | None = None, dry_run: bool = False
) -> int:
    """Delete the card sessions expired more than ``KEPT_AFTER_EXPIRY`` ago; returns how many.

    Run by the periodic payments check (``payment_watch_run``) and the daily
    retention job, never by the checkout; ``dry_run`` only counts them.
    """
    old = CardSession.objects.filter(expires_at__lt=(now or timezone.now()) - KEPT_AFTER_EXPIRY)
    if dry_run:
        return old.count()
    deleted, _by_model = old.delete()
    return deleted


def _binding(reference: str, session_id: str) -> CardSession | None:
    """The session this checkout opened that ``session_id`` comes back from, if any.

    In this order: the same return seen again, the session opened with that
    id, then a token made in the browser (no id); the latest of each. One query.
    """
    candidates = CardSession.objects.filter(
        Q(returned_id=session_id)
        | Q(session_id=session_id, returned_id="")
        | Q(session_id="", returned_id=""),
        reference=reference,
        provider=settings.PAYMENTS_PROVIDER,
    ).order_by("-pk")
    ranked = sorted(
        candidates,
        key=lambda s: 0 if s.returned_id == session_id else 1 if s.session_id == session_id else 2,
    )
    return ranked[0] if ranked else None


def payment_card_session_read(*, reference: str, session_id: str) -> CompletedCardSession | None:
    """The card the shopper entered, read from the provider, claimed for checkout ``reference``.

    ``None`` when the form was not completed. Raises ``CardSessionRefused``
    when the session was not opened by this checkout, has expired, or gave a
    token another checkout claimed.
    """
    if not re.fullmatch(r"[A-Za-z0-9_]{1,100}", session_id or ""):
        return None  # not an id any provider issues (NUL bytes, spaces, ...)
    binding = _binding(reference, session_id)
    if binding is None:
        raise CardSessionRefused("This card session was not opened by this checkout.")
    if binding.expires_at <= timezone.now():
        raise CardSessionRefused("This card session has expired.", code="card_session_expired")
    completed = get_provider().retrieve_card_session(session_id)
    if completed is None:
        return None
    if binding.payment_token not in (None, completed.payment_token):
        raise CardSessionRefused("This card session already gave another token.")
    binding.returned_id = session_id
    binding.payment_token = completed.payment_token
    try:
        with transaction.atomic():
            binding.save(update_fields=["returned_id", "payment_token"])
    except IntegrityError:
        raise CardSessionRefused("This card token belongs to another checkout.") from None
    return completed


def payment_card_session_check(*, reference: str, payment_token: str) -> None:
    """Before the order is placed: the token is this checkout's and still fresh.

    Raises ``CardSessionRefused`` otherwise; nothing is placed or authorized.
    """
    binding = CardSession.objects.filter(
        reference=reference, payment_token=payment_token, provider=settings.PAYMENTS_PROVIDER
    ).first()
    if binding is None:
        raise CardSessionRefused("This card token was not given to this checkout.")
    if binding.expires_at <= timezone.now():
        raise CardSessionRefused("This card session has expired.", code="card_session_expired")


def payment_card_session_transfer(
    *, from_reference: str, to_reference: str, payment_token: str
) -> None:
    """The same checkout renewed its token (a new attempt): its claimed card session follows.

    Only a binding already claimed by ``from_reference`` for ``payment_token``
    moves; anything else is left as it is (the check at placement refuses it).
    """
    CardSession.objects.filter(
        reference=from_reference, payment_token=payment_token, provider=settings.PAYMENTS_PROVIDER
    ).update(reference=to_reference)
