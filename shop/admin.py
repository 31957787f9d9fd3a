from decimal import Decimal

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from shop.models import Product, ProductVariant
from shop.money import format_money

CENT = Decimal("0.01")


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
