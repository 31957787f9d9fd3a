from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.validators import MaxLengthValidator

from shop.models import BlockedCheckoutAttempt, Product, ProductVariant


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login form, refusing a username longer than any user's.

    Django's form only sets the field's ``maxlength`` attribute; without this
    check a 3,000-character name reached the login-failure record (django-axes),
    whose column holds 255.
    """

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length or 150))


admin.site.login_form = AdminLoginForm


class ProductVariantInline(admin.TabularInline):
    model = ProductVariant
    extra = 0
    fields = ["size", "sku", "stock", "position"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "price_amount", "is_active", "position"]
    list_editable = ["is_active", "position"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug", "variants__sku"]
    inlines = [ProductVariantInline]


@admin.register(BlockedCheckoutAttempt)
class BlockedCheckoutAttemptAdmin(admin.ModelAdmin):
    """Card-testing limits at work: who was refused, how often, by which limit. Read-only."""

    list_display = ["last_at", "ip_address", "email", "limit", "count", "first_at"]
    list_filter = ["limit"]
    search_fields = ["ip_address", "email"]
    date_hierarchy = "last_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
