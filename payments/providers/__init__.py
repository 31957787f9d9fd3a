"""Pick the payment provider named by ``settings.PAYMENTS_PROVIDER``."""

from django.conf import settings
from django.utils.module_loading import import_string

from payments.providers.base import PaymentProvider

PROVIDERS = {
    "sandbox": "payments.providers.sandbox.provider.SandboxProvider",
    "stripe": "payments.providers.stripe.provider.StripeProvider",
}


def get_provider(name: str | None = None) -> PaymentProvider:
    return import_string(PROVIDERS[name or settings.PAYMENTS_PROVIDER])()
