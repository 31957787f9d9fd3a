from django import forms
from django.utils.translation import gettext_lazy as _

from orders.models import Carrier, Order, OrderLine


class ShipmentForm(forms.Form):
    """Staff's shipping form: one carrier, a tracking number per order.

    For a single order it also asks how many of each line go in this parcel
    (all that is left, by default), which is how an order ships in parts.
    """

    carrier = forms.ChoiceField(label=_("Carrier"), choices=Carrier.choices)

    def __init__(self, *args, orders: list[Order], remaining: dict[int, list], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.orders = orders
        self.remaining = remaining  # order id -> [(line, quantity left)]
        for order in orders:
            self.fields[f"tracking_{order.pk}"] = forms.CharField(
                label=_("Tracking number for order %(number)s") % {"number": order.number},
                max_length=64,
                required=False,
            )
        if len(orders) == 1:
            for line, left in remaining.get(orders[0].pk, []):
                if left > 0:
                    self.fields[f"line_{line.pk}"] = forms.IntegerField(
                        label=_("Quantity of %(product)s (%(size)s) in this parcel")
                        % {"product": line.product_name, "size": line.size},
                        min_value=0,
                        max_value=left,
                        initial=left,
                        required=False,
                    )

    def tracking_number(self, order: Order) -> str:
        return self.cleaned_data.get(f"tracking_{order.pk}", "")

    def lines(self) -> dict[int, int] | None:
        """Quantities per line for a single order; ``None`` ships everything left."""
        given = {
            int(name.removeprefix("line_")): value
            for name, value in self.cleaned_data.items()
            if name.startswith("line_") and value is not None
        }
        return given or None

    def clean(self) -> dict:
        cleaned = super().clean()
        quantities = [v for k, v in cleaned.items() if k.startswith("line_") and v is not None]
        if quantities and not any(quantities):
            raise forms.ValidationError(_("Choose at least one item to ship."))
        return cleaned

    def rows(self):
        return [(order, self[f"tracking_{order.pk}"]) for order in self.orders]

    def line_rows(self) -> list[tuple[OrderLine, int, forms.BoundField]]:
        if len(self.orders) != 1:
            return []
        return [
            (line, left, self[f"line_{line.pk}"])
            for line, left in self.remaining.get(self.orders[0].pk, [])
            if left > 0
        ]
