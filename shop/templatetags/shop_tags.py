from django import template
from django.conf import settings

from shop.delivery import delivery_estimate as _delivery_estimate
from shop.money import format_money

register = template.Library()


@register.filter
def money(amount: int | None, currency: str | None = None) -> str:
    """``{{ order.total_amount|money:order.currency }}``, formatted for the active language."""
    if amount is None or amount == "":
        return ""
    return format_money(int(amount), currency or settings.SHOP_CURRENCY)


@register.filter
def delivery_estimate(method_code: str) -> str:
    """``{{ shipping_method.code|delivery_estimate }}``: "Estimated delivery: …", for today."""
    estimate = _delivery_estimate(str(method_code))
    return str(estimate) if estimate else ""


@register.filter
def has_error_message(messages) -> bool:
    """``{% if messages|has_error_message %}``: the page reports a failure."""
    return any(message.level_tag == "error" for message in messages or ())
