from django import forms
from django.utils.translation import gettext_lazy as _

from orders.models import Carrier


class ShipmentForm(forms.Form):
    """Staff's shipping form: one carrier, and a tracking number per order."""

    carrier = forms.ChoiceField(label=_("Carrier"), choices=Carrier.choices)

    def __init__(self, *args, orders, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.orders = list(orders)
        for order in self.orders:
            self.fields[f"tracking_{order.pk}"] = forms.CharField(
                label=_("Tracking number for order %(number)s") % {"number": order.number},
                max_length=64,
                required=False,
            )

    def tracking_number(self, order) -> str:
        return self.cleaned_data.get(f"tracking_{order.pk}", "")

    def rows(self):
        return [(order, self[f"tracking_{order.pk}"]) for order in self.orders]
