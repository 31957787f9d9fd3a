"""Storefront: catalogue and cart."""

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from shop.cart import MAX_QUANTITY_PER_LINE, Cart, CartError
from shop.forms import AddToCartForm, CartQuantityForm
from shop.models import Product, ProductVariant

# Products per page of the collection: a page's cost does not grow with the catalogue.
PRODUCTS_PER_PAGE = 24


def _products_with_variants():
    return Product.objects.filter(is_active=True).prefetch_related(
        Prefetch("variants", queryset=ProductVariant.objects.order_by("position", "pk"))
    )


@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    """The collection, a page at a time (a bad page number shows the nearest page)."""
    products = _products_with_variants().order_by("position", "name", "pk")
    if request.GET.get("page") in (None, "", "1"):
        # The first page and one product more: a collection that fits on one page
        # needs no count (a longer one is counted for "page 1 of N").
        shown = list(products[: PRODUCTS_PER_PAGE + 1])
        if len(shown) <= PRODUCTS_PER_PAGE:
            page = Paginator(shown, PRODUCTS_PER_PAGE).page(1)
        else:
            page = Page(shown[:PRODUCTS_PER_PAGE], 1, Paginator(products, PRODUCTS_PER_PAGE))
    else:
        page = Paginator(products, PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "shop/product_list.html", {"products": page.object_list, "page": page})


def _product_and_variants(slug: str) -> tuple[Product, list[ProductVariant]]:
    """An active product and its sizes in order: one query (two for a product with no size)."""
    variants = list(
        ProductVariant.objects.select_related("product")
        .filter(product__slug=slug, product__is_active=True)
        .order_by("position", "pk")
    )
    if not variants:
        return get_object_or_404(Product, slug=slug, is_active=True), []
    product = variants[0].product
    for variant in variants:
        variant.product = product
    return product, variants


def _product_context(product: Product, variants: list[ProductVariant], form) -> dict:
    # The error summary's link to the sizes lands on the first size that can be chosen.
    available = [variant.pk for variant in variants if variant.in_stock]
    return {
        "product": product,
        "variants": variants,
        "form": form,
        "first_available": available[0] if available else None,
    }


@require_GET
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product, variants = _product_and_variants(slug)
    return render(
        request,
        "shop/product_detail.html",
        _product_context(product, variants, AddToCartForm(variants=variants)),
    )


@require_POST
def cart_add(request: HttpRequest, slug: str) -> HttpResponse:
    product, variants = _product_and_variants(slug)
    form = AddToCartForm(request.POST, variants=variants)
    if not form.is_valid():
        return render(
            request,
            "shop/product_detail.html",
            _product_context(product, variants, form),
            status=422,
        )
    variant = form.cleaned_data["variant"]
    try:
        Cart(request.session).add(variant, form.cleaned_data["quantity"])
    except CartError as error:
        messages.error(request, str(error))
        return redirect(product)
    messages.success(
        request,
        _("%(product)s, size %(size)s, is in your cart.")
        % {"product": product.name, "size": variant.size},
    )
    return redirect("shop:cart")


@require_GET
def cart_detail(request: HttpRequest) -> HttpResponse:
    summary = Cart(request.session).summary()
    return render(
        request, "shop/cart.html", {"cart": summary, "max_quantity": MAX_QUANTITY_PER_LINE}
    )


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    form = CartQuantityForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a quantity between 0 and 10."))
        return redirect("shop:cart")
    cart = Cart(request.session)
    variant = (
        ProductVariant.objects.select_related("product")
        .filter(pk=form.cleaned_data["variant"])
        .first()
    )
    if variant is None or variant.pk not in cart.quantities():
        messages.error(request, _("This item is not in your cart any more."))
        return redirect("shop:cart")
    try:
        cart.set_quantity(variant, form.cleaned_data["quantity"])
    except CartError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Your cart was updated."))
    return redirect("shop:cart")


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    try:
        variant_id = int(request.POST.get("variant", ""))
    except ValueError:
        messages.error(request, _("This item is not in your cart any more."))
        return redirect("shop:cart")
    Cart(request.session).remove(variant_id)
    messages.success(request, _("The item was removed from your cart."))
    return redirect("shop:cart")
