"""The demo catalogue loader and the demo staff account."""

import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from PIL import Image

from shop.demo import DEMO_PRODUCTS, load_demo_catalogue
from shop.models import Product, ProductVariant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def run(command, *args):
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


class TestLoadDemoCatalogue:
    def test_creates_twelve_products_with_sizes_and_png_pictures(self, media_root):
        assert load_demo_catalogue() == 12

        products = list(Product.objects.prefetch_related("variants"))
        assert len(products) == 12
        assert len({p.slug for p in products}) == 12
        for product in products:
            assert product.is_active
            assert product.currency == "EUR"
            assert product.description
            assert product.image_alt.startswith("Illustration d")
            assert product.variants.exists()
            assert product.image.name.startswith("products/")
            assert (media_root / product.image.name).is_file()
            with product.image.open("rb") as fh, Image.open(fh) as picture:
                assert picture.format == "PNG"
                assert picture.size == (600, 750)

    def test_sizes_follow_the_kind_of_article(self):
        load_demo_catalogue()

        def sizes(slug):
            return list(
                ProductVariant.objects.filter(product__slug=slug).values_list("size", flat=True)
            )

        assert sizes("robe-portefeuille-en-soie") == ["XS", "S", "M", "L", "XL"]
        assert sizes("escarpins") == ["36", "37", "38", "39", "40", "41"]
        assert sizes("sac-cabas-en-cuir") == ["Taille unique"]
        assert sizes("foulard-en-soie") == ["Taille unique"]
        assert ProductVariant.objects.get(sku="ROBE-SOIE-M").product.slug == (
            "robe-portefeuille-en-soie"
        )

    def test_prices_are_positive_cents(self):
        load_demo_catalogue()

        for price in Product.objects.values_list("price_amount", flat=True):
            assert isinstance(price, int)
            assert price > 0

    def test_stock_is_mostly_available_with_some_sizes_sold_out(self):
        load_demo_catalogue()

        stocks = list(ProductVariant.objects.values_list("stock", flat=True))
        assert all(0 <= stock <= 12 for stock in stocks)
        assert ProductVariant.objects.filter(stock=0).exists()
        assert sum(stock > 0 for stock in stocks) > len(stocks) / 2

    def test_second_call_creates_nothing(self, media_root):
        load_demo_catalogue()
        files = sorted(p.name for p in (media_root / "products").iterdir())

        assert load_demo_catalogue() == 0
        assert load_demo_catalogue(force=True) == 0
        assert Product.objects.count() == 12
        assert ProductVariant.objects.count() == sum(len(p.sizes) for p in DEMO_PRODUCTS)
        assert sorted(p.name for p in (media_root / "products").iterdir()) == files

    def test_an_existing_catalogue_is_left_alone(self):
        Product.objects.create(name="Ceinture", slug="ceinture", price_amount=4500)

        assert load_demo_catalogue() == 0
        assert Product.objects.count() == 1

    def test_force_adds_only_the_missing_products(self):
        Product.objects.create(name="Trench maison", slug="trench", price_amount=20000)

        assert load_demo_catalogue(force=True) == 11
        assert Product.objects.count() == 12
        assert Product.objects.get(slug="trench").name == "Trench maison"


class TestLoadDemoCatalogueCommand:
    def test_reports_what_was_created(self):
        assert "Created 12 demo products." in run("load_demo_catalogue")
        assert Product.objects.count() == 12

    def test_says_when_nothing_was_done(self):
        run("load_demo_catalogue")

        output = run("load_demo_catalogue")
        assert "already has products" in output
        assert "nothing was done" in output

    def test_force_on_a_full_catalogue_creates_nothing(self):
        run("load_demo_catalogue")

        assert "nothing was created" in run("load_demo_catalogue", "--force")
        assert Product.objects.count() == 12

    def test_unknown_option_is_a_command_error(self):
        with pytest.raises(CommandError):
            run("load_demo_catalogue", "--everything")


class TestCreateDemoStaff:
    def test_creates_a_superuser_who_can_log_in(self, settings):
        settings.DEBUG = True

        output = run("create_demo_staff")

        assert "Created the superuser 'staff'" in output
        user = authenticate(
            RequestFactory().post("/admin/login/"), username="staff", password="boutique-staff"
        )
        assert user is not None
        assert user.is_superuser
        assert user.is_staff
        assert user.email == "staff@example.com"

    def test_is_idempotent(self, settings):
        settings.DEBUG = True
        run("create_demo_staff")
        user = get_user_model().objects.get(username="staff")
        user.set_password("changed-by-hand")
        user.save()

        output = run("create_demo_staff")

        assert "already exists" in output
        assert get_user_model().objects.filter(username="staff").count() == 1
        assert (
            authenticate(
                RequestFactory().post("/admin/login/"), username="staff", password="changed-by-hand"
            )
            is not None
        )

    def test_refuses_without_debug(self, settings):
        settings.DEBUG = False

        with pytest.raises(CommandError, match="Refusing"):
            run("create_demo_staff")
        assert not get_user_model().objects.filter(username="staff").exists()

    def test_force_overrides_the_debug_check(self, settings):
        settings.DEBUG = False

        run("create_demo_staff", "--force")

        assert (
            authenticate(
                RequestFactory().post("/admin/login/"), username="staff", password="boutique-staff"
            )
            is not None
        )
