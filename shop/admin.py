from decimal import Decimal

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from shop.models import BlockedCheckoutAttempt, Product, ProductVariant
from shop.money import format_money

CENT = Decimal("0.01")


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


class ProductForm(forms.ModelForm):
    """The price is entered in euros in the staff's locale (``129,00``), stored in cents."""

    price = forms.DecimalField(
        label=_("Price (€)"),
        min_value=Decimal("0.01"),
        max_digits=9,
        decimal_places=2,
        localize=True,
        help_text=_("For example 129,00."),
    )

    class Meta:
        model = Product
        fields = ["name", "slug", "description", "image", "image_alt", "is_active", "position"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["price"] = (Decimal(self.instance.price_amount) / 100).quantize(CENT)

    def save(self, commit: bool = True) -> Product:
        self.instance.price_amount = int(self.cleaned_data["price"] * 100)
        return super().save(commit)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = ["name", "price_display", "is_active", "position"]
    list_editable = ["is_active", "position"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug", "variants__sku"]
    inlines = [ProductVariantInline]

    @admin.display(description=_("price"), ordering="price_amount")
    def price_display(self, product: Product) -> str:
        return format_money(product.price_amount, product.currency)


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
