import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import clear_url_caches
from django.utils import translation

from tests.helpers import run_tasks as _run_tasks


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _default_language():
    """A request to /en/ leaves English active in the thread: each test starts in French."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with no card-testing counters (they live in the cache)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def run_tasks():
    """Run every task that is ready, as the worker would; returns how many ran."""
    return _run_tasks


@pytest.fixture
def english():
    """Serve the unprefixed URLs in English for tests that read English messages.

    URL reversal caches the language prefix per language, so the caches are
    cleared on the way in and on the way out.
    """
    with override_settings(LANGUAGE_CODE="en"):
        clear_url_caches()
        yield
    clear_url_caches()


@pytest.fixture
def stripe_fake(settings, monkeypatch):
    """Switch the shop to the Stripe provider, talking HTTP to an in-memory Stripe."""
    from payments.providers.stripe import provider
    from tests.payments.stripe_fake import StripeFake

    settings.PAYMENTS_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_" + "51TestSecretKey0123456789"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_" + "51TestPublishableKey0123456789"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_" + "TestWebhookSecret0123456789"
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    fake = StripeFake()
    monkeypatch.setattr(provider, "build_http_client", lambda: fake)
    yield fake
    # The shop never sends what the pinned API version refuses, even where it copes with a 400.
    assert not fake.contract_refusals, [(r.path, r.params) for r in fake.contract_refusals]
