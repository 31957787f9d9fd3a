"""Demo catalogue of a French women's fashion boutique.

``load_demo_catalogue()`` fills an empty shop with a dozen products, their sizes
and a picture of each one. The pictures are drawn here with Pillow (a pastel
background and a flat silhouette of the garment), so nothing is downloaded and
the result is the same on every run.

Names and descriptions are the boutique's own catalogue content, written in
French; they are data, not interface text, so they are not marked for
translation.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, ImageDraw

from shop.models import Product, ProductVariant

logger = logging.getLogger(__name__)

__all__ = ["DEMO_PRODUCTS", "load_demo_catalogue", "render_product_image"]

IMAGE_SIZE = (600, 750)
# Drawn larger, then reduced: smooth edges without per-shape anti-aliasing.
_SUPERSAMPLE = 2

CLOTHING_SIZES = ("XS", "S", "M", "L", "XL")
SHOE_SIZES = ("36", "37", "38", "39", "40", "41")
ONE_SIZE = ("Taille unique",)
ONE_SIZE_SKU_SUFFIX = "TU"

Point = tuple[float, float]


@dataclass(frozen=True)
class DemoProduct:
    name: str
    slug: str
    sku_prefix: str
    description: str
    price_amount: int  # EUR cents
    shape: str  # key of _SHAPES
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


# Pictures -------------------------------------------------------------------


def render_product_image(spec: DemoProduct) -> bytes:
    """Return the PNG bytes of the product's picture."""
    width, height = IMAGE_SIZE
    s = _SUPERSAMPLE
    image = Image.new("RGB", (width * s, height * s), spec.background)
    pen = _Pen(ImageDraw.Draw(image), s, spec.colour, spec.background)
    _SHAPES[spec.shape](pen)
    image = image.resize(IMAGE_SIZE, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _shade(hex_colour: str, factor: float) -> tuple[int, int, int]:
    """Darken (factor < 1) or lighten (factor > 1) a colour."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    if factor <= 1:
        return (round(r * factor), round(g * factor), round(b * factor))
    mix = factor - 1
    return tuple(round(c + (255 - c) * mix) for c in (r, g, b))  # type: ignore[return-value]


class _Pen:
    """Draws in 600x750 coordinates on the supersampled canvas."""

    def __init__(self, draw: ImageDraw.ImageDraw, scale: int, colour: str, background: str):
        self.draw = draw
        self.scale = scale
        self.fill = colour
        self.background = background
        self.dark = _shade(colour, 0.78)
        self.outline = _shade(colour, 0.62)

    def _xy(self, points: Sequence[Point]) -> list[Point]:
        return [(x * self.scale, y * self.scale) for x, y in points]

    def _box(self, box: Sequence[float]) -> list[float]:
        return [v * self.scale for v in box]

    def polygon(self, points: Sequence[Point], fill=None, outline=True) -> None:
        self.draw.polygon(
            self._xy(points),
            fill=fill or self.fill,
            outline=self.outline if outline else None,
            width=3 * self.scale if outline else 0,
        )

    def mirror(self, points: Sequence[Point], fill=None, outline=True) -> None:
        """Draw the shape and its mirror image across the vertical axis x=300."""
        self.polygon(points, fill, outline)
        self.polygon([(600 - x, y) for x, y in points], fill, outline)

    def line(self, points: Sequence[Point], fill=None, width: float = 3) -> None:
        self.draw.line(self._xy(points), fill=fill or self.outline, width=round(width * self.scale))

    def ellipse(self, box: Sequence[float], fill=None, outline=True) -> None:
        self.draw.ellipse(
            self._box(box),
            fill=fill or self.fill,
            outline=self.outline if outline else None,
            width=3 * self.scale if outline else 0,
        )

    def rectangle(self, box: Sequence[float], fill=None, outline=True) -> None:
        self.draw.rectangle(
            self._box(box),
            fill=fill or self.fill,
            outline=self.outline if outline else None,
            width=3 * self.scale if outline else 0,
        )

    def arc(self, box: Sequence[float], start: float, end: float, width: float, fill=None) -> None:
        self.draw.arc(
            self._box(box), start, end, fill=fill or self.outline, width=round(width * self.scale)
        )

    def buttons(self, x: float, ys: Sequence[float], radius: float = 7) -> None:
        for y in ys:
            self.ellipse((x - radius, y - radius, x + radius, y + radius), fill=self.dark)


def _draw_dress(pen: _Pen) -> None:
    # Flutter sleeves, then the bodice with its V neckline, the tied waist
    # and a flared wrap skirt.
    pen.mirror([(238, 135), (190, 175), (205, 225), (245, 200)])
    pen.polygon(
        [(240, 120), (268, 120), (300, 230), (332, 120), (360, 120), (372, 240), (350, 330),
         (250, 330), (228, 240)]
    )  # fmt: skip
    pen.polygon([(250, 325), (350, 325), (455, 655), (145, 655)])
    pen.line([(350, 340), (230, 655)], fill=pen.dark, width=4)
    pen.rectangle((246, 318, 354, 342), fill=pen.dark)
    pen.polygon([(345, 335), (375, 420), (360, 425), (338, 345)], fill=pen.dark)
    pen.polygon([(340, 335), (395, 395), (383, 405), (334, 345)], fill=pen.dark)


def _draw_tailored(pen: _Pen, *, hem: float, belt: bool, double_breasted: bool) -> None:
    # Sleeves, body, the opening with lapels, pockets and buttons.
    pen.mirror([(215, 150), (150, 185), (118, 500), (170, 510), (200, 265)])
    pen.polygon([(205, 145), (395, 145), (415, hem), (185, hem)])
    pen.polygon([(270, 145), (300, 330), (330, 145)], fill=pen.background)
    pen.mirror(
        [(268, 140), (238, 175), (262, 210), (245, 225), (300, 340), (275, 140)], fill=pen.dark
    )
    pen.line([(300, 330), (300, hem)], width=3)
    pen.line([(215, 470), (275, 470)], width=3)
    pen.line([(325, 470), (385, 470)], width=3)
    if double_breasted:
        pen.buttons(270, (370, 430))
        pen.buttons(330, (370, 430))
    else:
        pen.buttons(300, (390, 440))
    if belt:
        pen.rectangle((190, 400, 410, 428), fill=pen.dark)
        pen.rectangle((286, 396, 314, 432), fill=pen.background)
        pen.polygon([(300, 428), (318, 520), (304, 522), (293, 430)], fill=pen.dark)


def _draw_blazer(pen: _Pen) -> None:
    _draw_tailored(pen, hem=560, belt=False, double_breasted=False)


def _draw_trench(pen: _Pen) -> None:
    _draw_tailored(pen, hem=670, belt=True, double_breasted=True)


def _draw_coat(pen: _Pen) -> None:
    _draw_tailored(pen, hem=680, belt=False, double_breasted=False)


def _draw_trousers(pen: _Pen) -> None:
    pen.polygon(
        [(205, 145), (395, 145), (405, 665), (315, 665), (300, 285), (285, 665), (195, 665)]
    )
    pen.rectangle((203, 108, 397, 148), fill=pen.dark)
    pen.ellipse((292, 120, 308, 136), fill="#d8b25a")
    pen.line([(300, 148), (300, 285)], width=3)
    pen.line([(215, 160), (262, 215)], width=3)
    pen.line([(385, 160), (338, 215)], width=3)
    for x in (225, 265, 335, 375):
        pen.rectangle((x - 5, 102, x + 5, 154), fill=pen.dark)


def _draw_knit_top(pen: _Pen, *, long_sleeves: bool, hem: float) -> None:
    if long_sleeves:
        pen.mirror([(205, 170), (130, 225), (98, 560), (150, 572), (200, 310)])
        pen.mirror([(98, 540), (150, 552), (150, 580), (96, 568)], fill=pen.dark)
    else:
        pen.mirror([(215, 160), (120, 240), (165, 300), (210, 265)])
    pen.polygon([(195, 160), (405, 160), (420, hem), (180, hem)])
    pen.ellipse((245, 125, 355, 198), fill=pen.background, outline=False)
    pen.arc((245, 125, 355, 198), 0, 180, 9, fill=pen.dark)


def _draw_sweater(pen: _Pen) -> None:
    _draw_knit_top(pen, long_sleeves=True, hem=590)
    pen.rectangle((180, 550, 420, 590), fill=pen.dark)
    for x in range(190, 420, 14):
        pen.line([(x, 552), (x, 588)], fill=pen.outline, width=2)


def _draw_tshirt(pen: _Pen) -> None:
    _draw_knit_top(pen, long_sleeves=False, hem=585)


def _draw_shirt(pen: _Pen) -> None:
    pen.mirror([(210, 160), (140, 210), (105, 560), (155, 570), (200, 300)])
    pen.mirror([(105, 540), (155, 550), (155, 582), (103, 572)], fill=_shade(pen.fill, 0.93))
    pen.polygon([(195, 155), (405, 155), (415, 600), (300, 620), (185, 600)])
    pen.mirror([(258, 135), (300, 180), (262, 215), (235, 160)], fill=_shade(pen.fill, 0.93))
    pen.line([(300, 180), (300, 615)], width=3)
    pen.buttons(316, (230, 300, 370, 440, 510), radius=6)


def _draw_skirt(pen: _Pen) -> None:
    hem = [(130, 610), (470, 610)]
    pen.polygon([(205, 205), (395, 205), hem[1], hem[0]])
    pen.rectangle((200, 168, 400, 208), fill=pen.dark)
    pleats = 11
    for i in range(1, pleats):
        top_x = 205 + (395 - 205) * i / pleats
        bottom_x = 130 + (470 - 130) * i / pleats
        pen.line([(top_x, 210), (bottom_x, 608)], fill=pen.dark, width=3)


def _draw_bag(pen: _Pen) -> None:
    pen.arc((215, 150, 385, 420), 180, 360, 16)
    pen.polygon([(165, 290), (435, 290), (465, 630), (135, 630)])
    pen.line([(172, 330), (428, 330)], fill=pen.dark, width=3)
    for x in (225, 375):
        pen.rectangle((x - 14, 282, x + 14, 312), fill=pen.dark)


def _draw_shoe(pen: _Pen) -> None:
    # A pump seen from the side: stiletto heel, upper, the inside of the shoe
    # showing along the topline, and the sole.
    pen.polygon([(452, 445), (490, 440), (482, 625), (469, 625)], fill=pen.dark)
    pen.polygon(
        [(95, 592), (100, 566), (140, 546), (215, 530), (262, 527), (322, 503), (392, 458),
         (450, 404), (480, 382), (494, 398), (490, 448), (452, 458), (402, 492), (342, 546),
         (282, 586), (200, 600), (110, 602)]
    )  # fmt: skip
    pen.polygon(
        [(262, 527), (322, 503), (392, 458), (450, 404), (480, 382), (472, 410), (424, 452),
         (362, 497), (302, 527)],
        fill=pen.outline,
    )  # fmt: skip
    pen.line([(98, 598), (200, 596), (282, 582), (342, 542), (402, 488), (452, 454)], width=5)


def _draw_scarf(pen: _Pen) -> None:
    gold = "#d6b15a"
    pen.polygon([(300, 125), (520, 375), (300, 625), (80, 375)], fill=gold)
    pen.polygon([(300, 160), (485, 375), (300, 590), (115, 375)])
    pen.polygon([(300, 235), (420, 375), (300, 515), (180, 375)], fill=_shade(pen.fill, 1.35))
    pen.ellipse((270, 345, 330, 405), fill=gold)
    for x, y in ((300, 200), (445, 375), (300, 550), (155, 375)):
        pen.ellipse((x - 12, y - 12, x + 12, y + 12), fill=pen.dark)


_SHAPES: dict[str, Callable[[_Pen], None]] = {
    "dress": _draw_dress,
    "blazer": _draw_blazer,
    "trench": _draw_trench,
    "coat": _draw_coat,
    "trousers": _draw_trousers,
    "sweater": _draw_sweater,
    "tshirt": _draw_tshirt,
    "shirt": _draw_shirt,
    "skirt": _draw_skirt,
    "bag": _draw_bag,
    "shoe": _draw_shoe,
    "scarf": _draw_scarf,
}
