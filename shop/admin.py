from django.contrib import admin

from shop.models import BlockedCheckoutAttempt, Product, ProductVariant


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
