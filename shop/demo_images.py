"""The demo catalogue's pictures, drawn with Pillow: a pastel background and a
flat silhouette of the garment, so nothing is downloaded and every run draws the
same picture."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw

IMAGE_SIZE = (600, 750)
# Drawn larger, then reduced: smooth edges without per-shape anti-aliasing.
_SUPERSAMPLE = 2

Point = tuple[float, float]


def render_garment(*, shape: str, colour: str, background: str) -> bytes:
    """Return the PNG bytes of a garment's flat silhouette (``shape``: a key of ``SHAPES``)."""
    width, height = IMAGE_SIZE
    s = _SUPERSAMPLE
    image = Image.new("RGB", (width * s, height * s), background)
    pen = _Pen(ImageDraw.Draw(image), s, colour, background)
    SHAPES[shape](pen)
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


SHAPES: dict[str, Callable[[_Pen], None]] = {
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
