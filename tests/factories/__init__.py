import factory

from shop.models import Product, ProductVariant


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Robe {n}")
    slug = factory.Sequence(lambda n: f"robe-{n}")
    description = "Une robe légère."
    image_alt = "Une robe"
    price_amount = 12900
    currency = "EUR"


class ProductVariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductVariant

    product = factory.SubFactory(ProductFactory)
    size = factory.Sequence(lambda n: f"T{n}")
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    stock = 5
