"""The shop's cheapest page, as many times as the shop's journey has requests: a ceiling.

Journey (opts: pages=20, path=/legal/terms/): GET ``path`` ``pages`` times,
then count one "order". The terms page runs no SQL statement and no form: the
shop's middleware (security headers, sessions in signed cookies, locale,
CSRF, messages, axes) and its base layout (header, language form with its
CSRF token, footer) around a block of text. Run beside the real journey
(``bench/flows/shop.py``, 20 requests), its server CPU per "order" is what
the shop's request cycle and layout cost before any catalogue, cart, form,
SQL or payment: the part of the real journey's CPU no change to a view can
remove. Like ``flows/shop.py``, every request carries ``X-Forwarded-Proto:
https`` (the shop redirects plain HTTP with DEBUG off).
"""

from flows import BaseFlow


class Flow(BaseFlow):
    name = "shop_pages"
    description = "the shop's cheapest page (no SQL), N times per journey"
    steps = ("page",)

    async def journey(self, s):
        headers = {"X-Forwarded-Proto": "https"}
        path = s.opt("path", "/legal/terms/")
        for _ in range(s.opt("pages", 20)):
            r = await s.get("page", path, expect=(200,), headers=headers)
        s.check("<main" in r.text, "page", f"{path} is not a shop page")
        s.order_placed()
