from django import forms
from django.utils.translation import gettext_lazy as _

from orders.models import Country
from orders.shipping import SHIPPING_METHODS
from shop.cart import MAX_QUANTITY_PER_LINE
from shop.money import format_money


def _quantity_messages(low: int) -> dict:
    message = _("Enter a quantity from %(low)d to %(high)d.") % {
        "low": low,
        "high": MAX_QUANTITY_PER_LINE,
    }
    return {key: message for key in ("required", "invalid", "min_value", "max_value")}


def _required(message) -> dict:
    return {"required": message}


class AddToCartForm(forms.Form):
    variant = forms.TypedChoiceField(
        label=_("Size"),
        coerce=int,
        empty_value=None,
        error_messages={"required": _("Choose a size."), "invalid_choice": _("Choose a size.")},
    )
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=1,
        max_value=MAX_QUANTITY_PER_LINE,
        initial=1,
        error_messages=_quantity_messages(1),
    )

    def __init__(self, *args, variants, **kwargs) -> None:
        """``variants``: the product's sizes, in the order shown."""
        super().__init__(*args, **kwargs)
        self.variants = {variant.pk: variant for variant in variants}
        self.fields["variant"].choices = [
            (
                variant.pk,
                variant.size
                if variant.in_stock
                else _("%(size)s – out of stock") % {"size": variant.size},
            )
            for variant in self.variants.values()
        ]

    def clean_variant(self):
        variant = self.variants.get(self.cleaned_data["variant"])
        if variant is None:
            raise forms.ValidationError(_("Choose a size."))
        return variant


class CartQuantityForm(forms.Form):
    variant = forms.IntegerField(widget=forms.HiddenInput)
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=0,
        max_value=MAX_QUANTITY_PER_LINE,
        error_messages=_quantity_messages(0),
    )


class CustomerDetailsForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        error_messages={
            "required": _("Enter your e-mail address."),
            "invalid": _("Enter an e-mail address like name@example.com."),
        },
        help_text=_("For your order confirmation and the debit notice."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=200,
        error_messages=_required(_("Enter your full name, as on your letterbox.")),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    address_line1 = forms.CharField(
        label=_("Address"),
        max_length=200,
        error_messages=_required(_("Enter your street address: number and street.")),
        widget=forms.TextInput(attrs={"autocomplete": "address-line1"}),
    )
    address_line2 = forms.CharField(
        label=_("Address (continued, optional)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    postal_code = forms.CharField(
        label=_("Postal code"),
        max_length=20,
        error_messages=_required(_("Enter your postal code.")),
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    city = forms.CharField(
        label=_("City"),
        max_length=100,
        error_messages=_required(_("Enter your town or city.")),
        widget=forms.TextInput(attrs={"autocomplete": "address-level2"}),
    )
    country = forms.ChoiceField(
        label=_("Country"),
        choices=Country.choices,
        initial=Country.FR,
        error_messages={
            "required": _("Choose the country to deliver to."),
            "invalid_choice": _("Choose the country to deliver to from the list."),
        },
        widget=forms.Select(attrs={"autocomplete": "country"}),
    )
    phone = forms.CharField(
        label=_("Phone (optional)"),
        max_length=30,
        required=False,
        help_text=_("Only for the carrier, if they need to reach you."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )


class ShippingMethodForm(forms.Form):
    shipping_method = forms.ChoiceField(
        label=_("Delivery"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a delivery method."),
            "invalid_choice": _("Choose one of the delivery methods offered."),
        },
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shipping_method"].choices = [
            (
                method.code,
                f"{method.name} ({method.delay}) – "
                f"{format_money(method.price_amount, method.currency)}",
            )
            for method in SHIPPING_METHODS.values()
        ]


class FindOrderForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        error_messages={
            "required": _("Enter the e-mail address you ordered with."),
            "invalid": _("Enter an e-mail address like name@example.com."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    number = forms.CharField(
        label=_("Order number"),
        max_length=16,
        help_text=_("Ten letters and digits, as in the confirmation, for example K7M2QX9PLA."),
        error_messages={
            "required": _("Enter your order number."),
            "max_length": _("An order number has ten letters and digits."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )

    def clean_number(self) -> str:
        return "".join(self.cleaned_data["number"].split()).upper()
