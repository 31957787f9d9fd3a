"""Django's form renderer, with the plain ``<input>`` widgets written in Python.

Django renders every ``<input>`` through two templates (the widget's, which
includes ``input.html``, which includes ``attrs.html``): on the checkout's
details page that is most of the page's rendering. ``ShopFormRenderer``
writes those widgets' HTML directly, character for character what the
templates give (``tests/shop/test_form_renderer.py`` compares both for every
input widget the shop uses); every other template goes through Django's.
"""

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData

# Widgets whose template is only {% include "django/forms/widgets/input.html" %}.
INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in ("text", "email", "number", "hidden", "password", "url", "search", "tel")
)


def _text(value) -> str:
    """``{{ value|stringformat:'s' }}`` in a template: ``%s``, escaped unless already safe."""
    return conditional_escape(value if isinstance(value, SafeData) else f"{value}")


def render_input(widget: dict) -> str:
    """``django/forms/widgets/input.html`` with its ``attrs.html``, for a widget's context."""
    html = f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"'
    if widget["value"] is not None:
        html += f' value="{_text(widget["value"])}"'
    for name, value in widget["attrs"].items():
        if value is not False:
            html += f" {_text(name)}" if value is True else f' {_text(name)}="{_text(value)}"'
    return html + ">"


class ShopFormRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        if template_name in INPUT_TEMPLATES:
            return render_input(context["widget"])
        return super().render(template_name, context, request=request)
