"""Card-testing limits: how many payment attempts the checkout accepts, kept in the cache.

Before an order is placed and its card sent to the provider, the attempt is
counted per checkout session, per IP address, per e-mail address and per
card (brand, last four digits and expiry), each over a sliding window, and a
global ceiling counts declines per window. An attempt over any limit is
refused before anything is placed or sent (``TooManyAttempts``, answered 429
with ``Retry-After``) and recorded for staff (``BlockedCheckoutAttempt``).

The counters are Django's cache (``CACHES``: local memory by default, Redis
through ``CACHE_URL`` so every web process shares them), written with the
cache API directly: two fixed buckets per key weighted into a sliding window
(the previous bucket counts for the part of the window it still covers), so
each counter is two small integers with an expiry, ``incr`` is atomic on
Redis, and nothing grows with the number of attempts.

The limits (``CHECKOUT_ATTEMPT_LIMITS``: attempts per seconds) are set so a
shopper never meets them: one or two declines, then a good card, always pays.
"""

import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import ngettext

from shop.checkout.state import CheckoutState
from shop.models import BlockedCheckoutAttempt
from shop.security import client_ip

SESSION_ID_KEY = "checkout_attempts_id"

# Counted for every attempt; "declines" counts the shop's declines, all shoppers together.
PER_ATTEMPT = ("session", "ip", "email", "card")
GLOBAL_DECLINES = "declines"


@dataclass(frozen=True, kw_only=True)
class AttemptIdentity:
    """Who is trying to pay: what the limits count by. Never a card number."""

    session_key: str
    ip_address: str
    email: str
    # Brand, last four digits and expiry ("" for a method without card digits).
    card: str = ""

    def keys(self) -> dict[str, str]:
        values = {
            "session": self.session_key,
            "ip": self.ip_address,
            "email": self.email.strip().lower(),
            "card": self.card,
        }
        return {name: value for name, value in values.items() if value}


class TooManyAttempts(Exception):
    """A payment attempt over a card-testing limit: refused before anything was placed."""

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(f"Too many payment attempts ({limit}); retry after {retry_after} s.")
        self.limit = limit
        self.retry_after = retry_after

    def user_message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        return ngettext(
            "Too many payment attempts. Nothing was charged: please try again in "
            "%(minutes)d minute.",
            "Too many payment attempts. Nothing was charged: please try again in "
            "%(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}


def _limit(name: str) -> tuple[int, int]:
    count, window = settings.CHECKOUT_ATTEMPT_LIMITS[name]
    return int(count), int(window)


def _bucket_keys(name: str, value: str, window: int, now: float) -> tuple[str, str]:
    digest = hashlib.sha256(f"{name}:{value}".encode()).hexdigest()[:32]
    bucket = int(now // window)
    return (
        f"checkout-limit:{name}:{digest}:{bucket}",
        f"checkout-limit:{name}:{digest}:{bucket - 1}",
    )


def _wait(name: str, value: str, now: float) -> int:
    """Seconds until one more attempt fits in the sliding window (0: it fits now)."""
    count, window = _limit(name)
    current_key, previous_key = _bucket_keys(name, value, window, now)
    counts = cache.get_many([current_key, previous_key])
    current, previous = counts.get(current_key, 0), counts.get(previous_key, 0)
    elapsed = now % window
    if previous * (window - elapsed) / window + current < count:
        return 0
    if current < count:
        # The previous bucket's share shrinks as the window slides on.
        return max(1, math.ceil(window * (1 - (count - current) / previous) - elapsed + 1))
    # This bucket alone is full: wait for it to become the previous one and shrink.
    return max(1, math.ceil(window - elapsed + window * (1 - count / current) + 1))


def _count(name: str, value: str, now: float) -> None:
    _limit_count, window = _limit(name)
    current_key, _previous = _bucket_keys(name, value, window, now)
    cache.add(current_key, 0, timeout=2 * window)
    try:
        cache.incr(current_key)
    except ValueError:  # expired between add and incr
        cache.set(current_key, 1, timeout=2 * window)


def limits_check(identity: AttemptIdentity) -> None:
    """Refuse an attempt over a limit (``TooManyAttempts``), else count it.

    A refused attempt is recorded for staff and not counted again, so a
    shopper who waits ``retry_after`` seconds can pay.
    """
    now = time.time()
    checks = [*identity.keys().items(), (GLOBAL_DECLINES, "all")]
    for name, value in checks:
        wait = _wait(name, value, now)
        if wait:
            _record_blocked(identity, name)
            raise TooManyAttempts(name, wait)
    for name, value in identity.keys().items():
        _count(name, value, now)


def limits_record_decline() -> None:
    """A decline, counted towards the global ceiling."""
    _count(GLOBAL_DECLINES, "all", time.time())


def _record_blocked(identity: AttemptIdentity, limit: str) -> None:
    """One row per IP, e-mail and limit, counting; old rows go."""
    ip_address, email = identity.ip_address[:45], identity.email.strip().lower()[:254]
    with transaction.atomic():
        updated = BlockedCheckoutAttempt.objects.filter(
            ip_address=ip_address, email=email, limit=limit
        ).update(count=F("count") + 1, last_at=timezone.now())
        if not updated:
            BlockedCheckoutAttempt.objects.get_or_create(
                ip_address=ip_address, email=email, limit=limit, defaults={"count": 1}
            )
    limits_purge_blocked(
        cutoff=timezone.now() - timedelta(days=settings.DECLINED_ORDER_RETENTION_DAYS)
    )


def limits_purge_blocked(*, cutoff: datetime, dry_run: bool = False) -> int:
    """Delete the blocked-attempt records last blocked before ``cutoff``; returns how many.

    Run on every blocked attempt and by the daily retention job
    (``shop.retention``); the window is ``DECLINED_ORDER_RETENTION_DAYS``.
    """
    old = BlockedCheckoutAttempt.objects.filter(last_at__lt=cutoff)
    if dry_run:
        return old.count()
    deleted, _by_model = old.delete()
    return deleted


def attempt_identity(request: HttpRequest, state: CheckoutState) -> AttemptIdentity:
    """What the limits count this checkout's attempt by."""
    card = state.payment or {}
    # A random id kept in the session: the session key itself changes with every
    # write when sessions are signed cookies.
    session_id = request.session.setdefault(SESSION_ID_KEY, secrets.token_hex(16))
    return AttemptIdentity(
        session_key=session_id,
        ip_address=client_ip(request)[:45],
        email=(state.customer or {}).get("email", ""),
        card=(
            f"{card['brand']}:{card['last4']}:{card['exp_month']}/{card['exp_year']}"
            if card.get("last4")
            else ""
        ),
    )
