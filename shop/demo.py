"""Demo catalogue of a French women's fashion boutique.

``load_demo_catalogue()`` fills an empty shop with a dozen products, their sizes
and a picture of each one. The pictures are drawn by `shop.demo_images` with Pillow (a pastel
background and a flat silhouette of the garment), so nothing is downloaded and
the result is the same on every run.

Names and descriptions are the boutique's own catalogue content, written in
French; they are data, not interface text, so they are not marked for
translation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from shop.demo_images import render_garment
from shop.models import Product, ProductVariant

logger = logging.getLogger(__name__)

__all__ = ["DEMO_PRODUCTS", "load_demo_catalogue", "render_product_image"]

CLOTHING_SIZES = ("XS", "S", "M", "L", "XL")
SHOE_SIZES = ("36", "37", "38", "39", "40", "41")
ONE_SIZE = ("Taille unique",)
ONE_SIZE_SKU_SUFFIX = "TU"


@dataclass(frozen=True)
class DemoProduct:
    name: str
    slug: str
    sku_prefix: str
    description: str
    price_amount: int  # EUR cents
    shape: str  # key of shop.demo_images.SHAPES
    colour: str  # the garment
    background: str  # the pastel backdrop
    image_alt: str
    sizes: Sequence[str]
    stock: Sequence[int]  # one number per size, same order


DEMO_PRODUCTS: tuple[DemoProduct, ...] = (
    DemoProduct(
        name="Robe portefeuille en soie",
        slug="robe-portefeuille-en-soie",
        sku_prefix="ROBE-SOIE",
        description=(
            "Robe portefeuille mi-longue en soie fluide, décolleté en V et ceinture "
            "à nouer à la taille. Elle se porte aussi bien au bureau qu'en soirée."
        ),
        price_amount=29500,
        shape="dress",
        colour="#d49ba3",
        background="#fbeef0",
        image_alt="Illustration d'une robe portefeuille rose poudré",
        sizes=CLOTHING_SIZES,
        stock=(3, 6, 0, 4, 2),
    ),
    DemoProduct(
        name="Blazer en laine",
        slug="blazer-en-laine",
        sku_prefix="BLAZER-LAINE",
        description=(
            "Blazer droit en laine vierge, coupe légèrement ajustée, revers crantés "
            "et deux poches à rabat. Doublure en viscose."
        ),
        price_amount=34900,
        shape="blazer",
        colour="#2f3d5c",
        background="#e5ecf5",
        image_alt="Illustration d'un blazer bleu marine à revers crantés",
        sizes=CLOTHING_SIZES,
        stock=(2, 5, 8, 5, 1),
    ),
    DemoProduct(
        name="Jean droit",
        slug="jean-droit",
        sku_prefix="JEAN-DROIT",
        description=(
            "Jean taille haute à jambe droite, en denim de coton rigide délavé. "
            "Cinq poches, fermeture par boutons."
        ),
        price_amount=12900,
        shape="trousers",
        colour="#5a7ea8",
        background="#edf2f8",
        image_alt="Illustration d'un jean droit bleu délavé",
        sizes=CLOTHING_SIZES,
        stock=(4, 9, 12, 7, 3),
    ),
    DemoProduct(
        name="Pull en cachemire",
        slug="pull-en-cachemire",
        sku_prefix="PULL-CACHEMIRE",
        description=(
            "Pull col rond en pur cachemire, maille douce et légère, finitions "
            "côtelées aux poignets et à la base."
        ),
        price_amount=24500,
        shape="sweater",
        colour="#c59a6a",
        background="#f7efe2",
        image_alt="Illustration d'un pull col rond camel",
        sizes=CLOTHING_SIZES,
        stock=(0, 3, 5, 4, 0),
    ),
    DemoProduct(
        name="Trench",
        slug="trench",
        sku_prefix="TRENCH",
        description=(
            "Trench classique en gabardine de coton déperlante, double boutonnage "
            "et ceinture amovible. Le compagnon des entre-saisons."
        ),
        price_amount=39500,
        shape="trench",
        colour="#c7ad86",
        background="#f3eee4",
        image_alt="Illustration d'un trench beige ceinturé",
        sizes=CLOTHING_SIZES,
        stock=(1, 4, 6, 3, 2),
    ),
    DemoProduct(
        name="Chemise en popeline",
        slug="chemise-en-popeline",
        sku_prefix="CHEMISE-POPELINE",
        description=(
            "Chemise ample en popeline de coton, col classique et manches longues "
            "à poignets boutonnés. Un basique frais et net."
        ),
        price_amount=11900,
        shape="shirt",
        colour="#fdfdfb",
        background="#e2edf6",
        image_alt="Illustration d'une chemise blanche à col classique",
        sizes=CLOTHING_SIZES,
        stock=(5, 8, 10, 6, 4),
    ),
    DemoProduct(
        name="Jupe plissée",
        slug="jupe-plissee",
        sku_prefix="JUPE-PLISSEE",
        description=(
            "Jupe midi plissée soleil en crêpe léger, taille élastiquée. Elle "
            "accompagne chaque pas d'un joli mouvement."
        ),
        price_amount=15900,
        shape="skirt",
        colour="#98ab8b",
        background="#edf3e9",
        image_alt="Illustration d'une jupe plissée vert sauge",
        sizes=CLOTHING_SIZES,
        stock=(2, 0, 4, 3, 1),
    ),
    DemoProduct(
        name="Sac cabas en cuir",
        slug="sac-cabas-en-cuir",
        sku_prefix="SAC-CABAS",
        description=(
            "Grand cabas en cuir de vachette pleine fleur, assez large pour un "
            "ordinateur portable. Pochette intérieure zippée."
        ),
        price_amount=29900,
        shape="bag",
        colour="#9a5a33",
        background="#f6eadf",
        image_alt="Illustration d'un sac cabas en cuir cognac",
        sizes=ONE_SIZE,
        stock=(7,),
    ),
    DemoProduct(
        name="Escarpins",
        slug="escarpins",
        sku_prefix="ESCARPINS",
        description=(
            "Escarpins en cuir verni à bout pointu et talon de 7 cm. Semelle "
            "intérieure rembourrée pour le confort."
        ),
        price_amount=18900,
        shape="shoe",
        colour="#b3303e",
        background="#f9e8ea",
        image_alt="Illustration d'un escarpin rouge à talon",
        sizes=SHOE_SIZES,
        stock=(2, 4, 6, 0, 3, 1),
    ),
    DemoProduct(
        name="Foulard en soie",
        slug="foulard-en-soie",
        sku_prefix="FOULARD-SOIE",
        description=(
            "Carré de soie imprimé, ourlets roulottés à la main. Se noue au cou, "
            "dans les cheveux ou à l'anse d'un sac."
        ),
        price_amount=12500,
        shape="scarf",
        colour="#7fa7c9",
        background="#f5f0e1",
        image_alt="Illustration d'un foulard carré bleu ciel à bordure dorée",
        sizes=ONE_SIZE,
        stock=(11,),
    ),
    DemoProduct(
        name="Manteau long",
        slug="manteau-long",
        sku_prefix="MANTEAU-LONG",
        description=(
            "Manteau long en drap de laine mélangée, coupe droite et col tailleur. "
            "Chaud sans être lourd."
        ),
        price_amount=49500,
        shape="coat",
        colour="#4b4e54",
        background="#eceef1",
        image_alt="Illustration d'un manteau long gris anthracite",
        sizes=CLOTHING_SIZES,
        stock=(1, 3, 0, 2, 1),
    ),
    DemoProduct(
        name="T-shirt en coton bio",
        slug="t-shirt-en-coton-bio",
        sku_prefix="TSHIRT-BIO",
        description=(
            "T-shirt col rond en jersey de coton biologique certifié, coupe droite "
            "et manches courtes. Fabriqué au Portugal."
        ),
        price_amount=8900,
        shape="tshirt",
        colour="#f3ede0",
        background="#f2dfd3",
        image_alt="Illustration d'un t-shirt écru à manches courtes",
        sizes=CLOTHING_SIZES,
        stock=(6, 10, 12, 9, 5),
    ),
)


def load_demo_catalogue(*, force: bool = False) -> int:
    """Create the demo products and return how many were created.

    Does nothing (and returns 0) when the shop already has products, unless
    ``force`` is set: then only the demo products whose slug is not taken yet
    are added. Nothing is ever deleted or changed.
    """
    if Product.objects.exists() and not force:
        return 0

    saved_files: list[str] = []
    try:
        with transaction.atomic():
            existing_slugs = set(
                Product.objects.filter(slug__in=[p.slug for p in DEMO_PRODUCTS]).values_list(
                    "slug", flat=True
                )
            )
            all_skus = [_sku(p, size) for p in DEMO_PRODUCTS for size in p.sizes]
            taken_skus = set(
                ProductVariant.objects.filter(sku__in=all_skus).values_list("sku", flat=True)
            )
            created = 0
            for position, spec in enumerate(DEMO_PRODUCTS, start=1):
                if spec.slug in existing_slugs:
                    continue
                skus = [_sku(spec, size) for size in spec.sizes]
                if taken_skus.intersection(skus):
                    logger.warning(
                        "Demo product %s skipped: one of its SKUs is already used.", spec.slug
                    )
                    continue
                _create_product(spec, position, skus, saved_files)
                created += 1
    except BaseException:
        # The rows are rolled back; do not leave their pictures behind.
        for name in saved_files:
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("Could not remove demo image %s", name, exc_info=True)
        raise
    return created


def _sku(spec: DemoProduct, size: str) -> str:
    suffix = ONE_SIZE_SKU_SUFFIX if size in ONE_SIZE else size
    return f"{spec.sku_prefix}-{suffix}"


def _create_product(
    spec: DemoProduct, position: int, skus: Sequence[str], saved_files: list[str]
) -> Product:
    if len(spec.stock) != len(spec.sizes):
        raise ValueError(f"{spec.slug}: one stock number per size is expected.")
    product = Product(
        name=spec.name,
        slug=spec.slug,
        description=spec.description,
        image_alt=spec.image_alt,
        price_amount=spec.price_amount,
        currency=settings.SHOP_CURRENCY,
        is_active=True,
        position=position,
    )
    product.image.save(f"{spec.slug}.png", ContentFile(render_product_image(spec)), save=False)
    saved_files.append(product.image.name)
    product.save()
    ProductVariant.objects.bulk_create(
        ProductVariant(product=product, size=size, sku=sku, stock=stock, position=index)
        for index, (size, sku, stock) in enumerate(zip(spec.sizes, skus, spec.stock, strict=True))
    )
    return product


def render_product_image(spec: DemoProduct) -> bytes:
    """Return the PNG bytes of the product's picture."""
    return render_garment(shape=spec.shape, colour=spec.colour, background=spec.background)
