from django import template
from django.conf import settings

from shop.money import format_money

register = template.Library()


@register.filter
def money(amount: int | None, currency: str | None = None) -> str:
    """``{{ order.total_amount|money:order.currency }}``, formatted for the active language."""
    if amount is None or amount == "":
        return ""
    return format_money(int(amount), currency or settings.SHOP_CURRENCY)
