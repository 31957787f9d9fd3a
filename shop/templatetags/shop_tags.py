from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.urls import get_script_prefix, get_urlconf
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

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


# Bumped when a setting changes (tests): every fixed fragment renders again.
_settings_version = [0]


def _forget_fragments(**kwargs) -> None:
    _settings_version[0] += 1


setting_changed.connect(_forget_fragments, dispatch_uid="shop_tags_forget_fragments")


class FixedFragmentNode(template.Node):
    """Renders its content once per language and URL prefix, then repeats that HTML."""

    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist
        self.rendered: dict[tuple, str] = {}
        self.version = _settings_version[0]

    def render(self, context: template.Context) -> str:
        if self.version != _settings_version[0]:
            self.rendered, self.version = {}, _settings_version[0]
        key = (get_language(), get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
        html = self.rendered.get(key)
        if html is None:
            html = self.rendered[key] = mark_safe(self.nodelist.render(context))  # noqa: S308
        return html


@register.tag
def fixed_fragment(parser, token) -> FixedFragmentNode:
    """``{% fixed_fragment %}…{% endfixed_fragment %}``: HTML that depends only on the
    language and the site's URLs (translated words, ``{% url %}`` links with fixed
    arguments), rendered once per process and language instead of on every page.

    Never put inside it anything from the request, the user, the cart, a form, a
    CSRF token or the database: the first page's values would be shown to everyone.
    """
    if len(token.split_contents()) != 1:
        raise template.TemplateSyntaxError("fixed_fragment takes no argument.")
    nodelist = parser.parse(("endfixed_fragment",))
    parser.delete_first_token()
    return FixedFragmentNode(nodelist)
