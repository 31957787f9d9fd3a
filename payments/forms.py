import uuid
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

# Above any order's total; checked before the amount is turned into cents, so
# that "9e999999" is refused with a message instead of overflowing.
MAX_REFUND_EUROS = Decimal("10000000")


class RefundForm(forms.Form):
    """Staff's refund: an amount in euros; the hidden token makes a resubmit harmless."""

    amount = forms.CharField(
        label=_("Amount to refund (€)"),
        max_length=12,
        help_text=_("For example 49,90."),
    )
    request_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_amount(self) -> int:
        raw = self.cleaned_data["amount"].strip().replace("\u00a0", "").replace(" ", "")
        try:
            value = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            raise forms.ValidationError(_("Enter an amount such as 49,90.")) from None
        if not value.is_finite() or value <= 0 or value.as_tuple().exponent < -2:
            raise forms.ValidationError(_("Enter a positive amount with at most two decimals."))
        if value > MAX_REFUND_EUROS:
            raise forms.ValidationError(_("This amount is larger than any order."))
        return int(value * 100)
