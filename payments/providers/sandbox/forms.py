import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from payments.providers.sandbox.testcards import detect_brand, luhn_valid, security_code_length


class CardForm(forms.Form):
    """The sandbox's hosted card form. The security code is checked, then dropped."""

    number = forms.CharField(
        label=_("Card number"),
        max_length=23,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-number", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )
    expiry = forms.CharField(
        label=_("Expiry date (MM/YY)"),
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "inputmode": "numeric"}),
    )
    security_code = forms.CharField(
        label=_("Security code"),
        max_length=4,
        help_text=_("3 digits on the back; 4 on the front for American Express."),
        widget=forms.TextInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )

    def clean_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not re.fullmatch(r"[0-9]{12,19}", number) or not luhn_valid(number):
            raise forms.ValidationError(_("This card number is not valid."))
        brand = detect_brand(number)
        if brand is None:
            raise forms.ValidationError(
                _("We accept Visa, Mastercard and American Express cards only.")
            )
        self.brand = brand
        return number

    def clean_expiry(self) -> tuple[int, int]:
        match = re.fullmatch(
            r"\s*([0-9]{1,2})\s*/\s*([0-9]{2}|[0-9]{4})\s*", self.cleaned_data["expiry"]
        )
        if not match:
            raise forms.ValidationError(_("Enter the expiry date as MM/YY."))
        month, year = int(match[1]), int(match[2])
        if year < 100:
            year += 2000
        if not 1 <= month <= 12:
            raise forms.ValidationError(_("The expiry month must be between 01 and 12."))
        today = timezone.localdate()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError(_("This card has expired."))
        if year > today.year + 20:
            raise forms.ValidationError(_("This expiry date is too far in the future."))
        return month, year

    def clean(self) -> dict:
        cleaned = super().clean()
        code = cleaned.get("security_code", "")
        brand = getattr(self, "brand", None)
        if code and brand:
            length = security_code_length(brand)
            if not re.fullmatch(rf"[0-9]{{{length}}}", code):
                self.add_error(
                    "security_code",
                    _("The security code of this card has %(count)d digits.") % {"count": length},
                )
        elif "security_code" not in self.errors and not code:
            self.add_error("security_code", _("Enter the card's security code."))
        # Checked: now forget it.
        cleaned.pop("security_code", None)
        return cleaned
