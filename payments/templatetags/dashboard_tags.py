from django import template

from payments.dashboard import Count, dashboard_counts

register = template.Library()


@register.simple_tag(takes_context=True)
def attention_counts(context) -> list[Count]:
    """The admin home's counts for the signed-in user."""
    return dashboard_counts(context["request"].user)
