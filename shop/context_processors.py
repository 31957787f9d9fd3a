from django.conf import settings
from django.http import HttpRequest

from payments.providers import get_provider
from shop.cart import Cart


def storefront(request: HttpRequest) -> dict:
    """Cart size (from the session, no query) and whether payments are in test mode."""
    if request.path.startswith("/admin/"):
        return {}
    quantities = Cart(request.session).quantities() if hasattr(request, "session") else {}
    return {
        "cart_item_count": sum(quantities.values()),
        "payments_test_mode": get_provider().is_test_mode,
        "payments_provider": settings.PAYMENTS_PROVIDER,
        "catalogue_language": settings.SHOP_CATALOGUE_LANGUAGE,
    }
