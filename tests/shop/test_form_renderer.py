"""The shop's form renderer writes exactly what Django's widget templates write."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils.safestring import mark_safe

from shop.form_renderer import ShopFormRenderer
from shop.forms import (
    AddToCartForm,
    CartQuantityForm,
    CustomerDetailsForm,
    FindOrderForm,
    ShippingMethodForm,
)
from tests.factories import ProductVariantFactory

TRICKY = ['a "quoted" <b>&amp; value', "l'apostrophe", "", "  spaced  ", "Zoë ✓"]


class EveryInput(forms.Form):
    text = forms.CharField(widget=forms.TextInput(attrs={"autocomplete": "name", "data-x": 3}))
    email = forms.EmailField(required=False, widget=forms.EmailInput(attrs={"disabled": False}))
    number = forms.IntegerField(min_value=0, max_value=10)
    hidden = forms.CharField(widget=forms.HiddenInput)
    password = forms.CharField(widget=forms.PasswordInput(render_value=True))
    url = forms.URLField(required=False)
    search = forms.CharField(widget=forms.SearchInput(attrs={"placeholder": '<"ok">'}))
    flag = forms.BooleanField(required=False)


def _both(form_factory) -> tuple[str, str]:
    return (
        str(form_factory(DjangoTemplates())),
        str(form_factory(ShopFormRenderer())),
    )


def test_the_shop_renderer_is_the_default():
    assert isinstance(get_default_renderer(), ShopFormRenderer)


@pytest.mark.parametrize("value", TRICKY)
def test_every_input_widget_is_written_as_the_templates_write_it(value):
    data = {name: value for name in EveryInput.base_fields}
    django_html, shop_html = _both(lambda r: EveryInput(data, renderer=r))
    assert shop_html == django_html
    assert "&lt;b&gt;&amp;amp;" in shop_html or "<b>" not in value
    django_html, shop_html = _both(lambda r: EveryInput(renderer=r))
    assert shop_html == django_html


def test_a_value_already_marked_safe_is_not_escaped_twice():
    widget = forms.TextInput()
    value = mark_safe("a &amp; b")
    assert widget.render("x", value, renderer=ShopFormRenderer()) == widget.render(
        "x", value, renderer=DjangoTemplates()
    )
    assert 'value="a &amp; b"' in widget.render("x", value, renderer=ShopFormRenderer())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [None, {}, {"email": "x@", "full_name": "<script>", "postal_code": "7500'2", "phone": "0"}],
)
def test_the_shop_forms_render_the_same_bound_or_not(data):
    variant = ProductVariantFactory(stock=0)
    ProductVariantFactory(product=variant.product, stock=3)
    factories = [
        lambda r: AddToCartForm(data, variants=list(variant.product.variants.all()), renderer=r),
        lambda r: CartQuantityForm(data, renderer=r),
        lambda r: CustomerDetailsForm(data, renderer=r),
        lambda r: FindOrderForm(data, renderer=r),
        lambda r: ShippingMethodForm(data, renderer=r),
    ]
    for factory in factories:
        django_html, shop_html = _both(factory)
        assert shop_html == django_html


def test_plain_inputs_skip_the_templates_and_other_widgets_use_them(monkeypatch):
    loaded = []
    original = DjangoTemplates.get_template
    monkeypatch.setattr(
        DjangoTemplates,
        "get_template",
        lambda self, name: loaded.append(name) or original(self, name),
    )
    renderer = ShopFormRenderer()
    forms.TextInput().render("x", "y", renderer=renderer)
    forms.NumberInput().render("n", 3, renderer=renderer)
    assert loaded == []
    forms.Select(choices=[("a", "A")]).render("s", "a", renderer=renderer)
    assert "django/forms/widgets/select.html" in loaded
