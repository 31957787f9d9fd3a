from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import set_language

from payments.providers.stripe.webhooks import stripe_webhook
from shop import checkout_views, legal, order_views, views
from worker.views import health

admin.site.site_header = _("Boutique back office")
admin.site.site_title = _("Boutique back office")

storefront = (
    [
        path("", views.product_list, name="product_list"),
        path("products/<slug:slug>/", views.product_detail, name="product_detail"),
        path("products/<slug:slug>/add/", views.cart_add, name="cart_add"),
        path("cart/", views.cart_detail, name="cart"),
        path("legal/terms/", legal.legal_page, {"page": "terms"}, name="legal_terms"),
        path("legal/notice/", legal.legal_page, {"page": "notice"}, name="legal_notice"),
        path("legal/returns/", legal.legal_page, {"page": "returns"}, name="legal_returns"),
        path("legal/privacy/", legal.legal_page, {"page": "privacy"}, name="legal_privacy"),
        path("contact/", legal.legal_page, {"page": "contact"}, name="legal_contact"),
        path("payment/", order_views.payment_information, name="payment_information"),
        path("orders/find/", order_views.find_order, name="find_order"),
        path("cart/update/", views.cart_update, name="cart_update"),
        path("cart/remove/", views.cart_remove, name="cart_remove"),
        path("checkout/", checkout_views.checkout_details, name="checkout_details"),
        path("checkout/delivery/", checkout_views.checkout_shipping, name="checkout_shipping"),
        path("checkout/payment/", checkout_views.checkout_payment, name="checkout_payment"),
        path(
            "checkout/payment/return/",
            checkout_views.checkout_payment_return,
            name="checkout_payment_return",
        ),
        path("checkout/review/", checkout_views.checkout_review, name="checkout_review"),
        path(
            "checkout/authentication/return/",
            checkout_views.checkout_authentication_return,
            name="checkout_authentication_return",
        ),
        path(
            "orders/<uuid:token>/",
            order_views.order_confirmation,
            name="order_confirmation",
        ),
        path(
            "orders/<uuid:token>/authorize/",
            order_views.order_reauthorize,
            name="order_reauthorize",
        ),
        path(
            "orders/<uuid:token>/authorize/return/",
            order_views.order_reauthorize_return,
            name="order_reauthorize_return",
        ),
        path(
            "orders/<uuid:token>/authorize/authentication/",
            order_views.order_reauthorize_authentication,
            name="order_reauthorize_authentication",
        ),
    ],
    "shop",
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("payments/webhooks/stripe/", stripe_webhook, name="stripe_webhook"),
    path("payments/stripe/", include("payments.providers.stripe.urls")),
]
# Each provider's pages answer only while it is the one in use (the URL map
# does not depend on settings, so it is the same however it was first loaded).
urlpatterns.append(path("sandbox/", include("payments.providers.sandbox.urls")))
urlpatterns += i18n_patterns(path("", include(storefront)), prefix_default_language=False)

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
