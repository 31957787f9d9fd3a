"""Pick the payment provider named by ``settings.PAYMENTS_PROVIDER``, or its event reader."""

from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

from payments.providers.base import PaymentProvider, ProviderNotice

PROVIDERS = {
    "sandbox": "payments.providers.sandbox.provider.SandboxProvider",
    "stripe": "payments.providers.stripe.provider.StripeProvider",
}

# Providers that send webhooks: how each decodes a stored event into a typed notice.
EVENT_READERS = {
    "stripe": "payments.providers.stripe.webhooks.read_event",
}


def get_provider(name: str | None = None) -> PaymentProvider:
    return import_string(PROVIDERS[name or settings.PAYMENTS_PROVIDER])()


def read_provider_event(provider: str, event_type: str, payload: dict) -> ProviderNotice | None:
    """The payment a provider's event is about; ``None`` for an event type not handled."""
    reader: Callable[[str, dict], ProviderNotice | None] = import_string(EVENT_READERS[provider])
    return reader(event_type, payload)
