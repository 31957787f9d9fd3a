"""Money is an integer of minor units plus an ISO 4217 code; this formats it."""

from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision
from django.utils import translation

BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def to_decimal(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-get_currency_precision(currency))


def format_money(amount: int, currency: str, language: str | None = None) -> str:
    """Format minor units for a language: ``12900, "EUR"`` is "129,00 €" in French."""
    language = (language or translation.get_language() or "fr").split("-")[0]
    return _formatted(amount, currency, BABEL_LOCALES.get(language, "fr_FR"))


# A page shows the same few prices many times and Babel takes tens of
# microseconds per call: each (amount, currency, locale) is formatted once per
# process. Babel's data never changes while the process runs.
@lru_cache(maxsize=8192)
def _formatted(amount: int, currency: str, locale: str) -> str:
    return format_currency(to_decimal(amount, currency), currency, locale=locale)
