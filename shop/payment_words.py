"""What the storefront says about each payment method, derived from ``payments/methods.py``.

The words follow what the method does (a card form, a wallet, the service's
own page; held then debited at shipment, or paid at once), so a new method
gets fitting words without another template branch.
"""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from payments.methods import METHODS, MethodSpec


@dataclass(frozen=True)
class MethodWords:
    code: str
    name: str
    button: str
    when_debited: str
    devices: str
    review_promise: str
    change: str
    paid_at_order: bool


def _button(spec: MethodSpec, again: bool) -> str:
    if spec.page == "card":
        return _("Use another card") if again else _("Enter card details")
    if spec.page == "wallet":
        return _("Pay with %(method)s") % {"method": spec.label}
    return _("Continue to %(method)s") % {"method": spec.label}


def _when_debited(spec: MethodSpec) -> str:
    if spec.capture == "immediate":
        return _("Debited at once, when you place the order.")
    return _(
        "Nothing is debited today: the amount is held when you order, and debited when your parcel is handed to the carrier."
    )


def _devices(spec: MethodSpec) -> str:
    if spec.devices == "apple":
        return _("On iPhone and iPad, in Safari.")
    if spec.devices == "android":
        return _("On Android phones, in Chrome.")
    return _("On every device.")


def _review_promise(spec: MethodSpec, total: str) -> str:
    if spec.capture == "immediate":
        return _(
            "When you place the order, %(method)s takes %(total)s at once (it has no separate "
            "debit at shipment); anything we do not ship is refunded."
        ) % {"method": spec.label, "total": total}
    if spec.page == "approval":
        return _(
            "When you place the order, you approve %(total)s on your %(method)s account. It is "
            "debited only when your parcel is handed to the carrier; we will e-mail you then."
        ) % {"method": spec.label, "total": total}
    return _(
        "When you place the order, %(total)s is held on your card. It is debited only when "
        "your parcel is handed to the carrier; we will e-mail you then."
    ) % {"total": total}


def method_words(code: str, *, total: str = "", again: bool = False) -> MethodWords:
    spec = METHODS.get(code) or METHODS["card"]
    return MethodWords(
        code=spec.code,
        name=str(spec.label),
        button=_button(spec, again),
        when_debited=_when_debited(spec),
        devices=_devices(spec),
        review_promise=_review_promise(spec, total),
        change=_("card") if spec.page == "card" else _("payment method"),
        paid_at_order=spec.capture == "immediate",
    )
