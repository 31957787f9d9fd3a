"""Our shop (bench/shop_target, a clone of the project): guest checkout with the sandbox card.

Copied from ../shared/bench/flows/shop.py; the cart page now shows a quantity stepper
(two name="quantity" buttons per line), so the basket check counts the lines.

Journey (opts: items=2 distinct products, one of each; card=4242 4242 4242 4242):
  list          GET  /                               (the collection, one ORM query + prefetch)
  product       GET  a product page picked at random from the list
  add_to_basket POST /products/<slug>/add/ (first size in stock, quantity 1)
                -> 302 /cart/ (followed: the cart page)
                (product + add_to_basket repeat for each item)
  basket        GET  /cart/                          (as Oscar's flow re-reads its basket)
  checkout      GET  /checkout/                      (details form: e-mail and address)
  address       POST details -> 302 /checkout/delivery/ (followed)
  shipping      POST shipping_method=standard -> 302 /checkout/payment/ (followed)
  payment       POST method=card -> 302 /sandbox/pay/<session>/ (followed: the
                sandbox's hosted card page, rendered by the same server)
  card_page     POST the test card on the sandbox's page -> 302 back to the shop
                (not followed: the sandbox redirects to the absolute https return URL)
  review        GET  /checkout/payment/return/?session_id=... (the shop reads the card
                from the provider) -> 302 /checkout/review/ (followed)
  place_order   POST checkout_token -> order + lines + stock + payment + authorization
                at the sandbox (in process) -> 302 /orders/<uuid>/ (not followed)
  confirmation  GET  /orders/<uuid>/                 (must show the order number and
                the "held, not debited" promise)

HTTPS: with DEBUG off the shop redirects plain HTTP to HTTPS and marks its cookies
Secure; it trusts X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER), as behind a TLS proxy.
So every request carries X-Forwarded-Proto: https, POSTs carry the Origin a browser
on https://<host> sends (CSRF checks Origin first on secure requests), Secure cookies
are sent back over the loopback (a response hook clears the flag in the shopper's jar:
the browser-to-proxy leg would be HTTPS), and absolute https://<host>/... redirects
are followed on the same base URL.
"""

import re
from urllib.parse import urlsplit

from flows import BaseFlow

PRODUCT_RE = re.compile(r'href="(/products/[-\w]+/)"')
# Size radios of the add-to-cart form; sizes out of stock are rendered disabled.
VARIANT_RE = re.compile(r'<input type="radio" name="variant" value="(\d+)"(?![^>]*disabled)')
ORDER_URL_RE = re.compile(r"^/orders/[0-9a-f-]{36}/$")
ORDER_NUMBER_RE = re.compile(r'data-testid="order-number">([^<]+)<')


class Flow(BaseFlow):
    name = "shop"
    description = "our shop: guest checkout, sandbox hosted card page, authorization"
    steps = (
        "list",
        "product",
        "add_to_basket",
        "basket",
        "checkout",
        "address",
        "shipping",
        "payment",
        "card_page",
        "review",
        "place_order",
        "confirmation",
    )

    async def journey(self, s):
        base = str(s.client.base_url).rstrip("/")
        host = urlsplit(base).netloc
        origin = f"https://{host}"
        if not getattr(s.client, "_bench_https_cookies", False):
            client = s.client

            async def https_cookies(response):
                # Runs after httpx stored the response's cookies: let Secure cookies go
                # back over the loopback, as the browser sends them over TLS to the proxy.
                for cookie in client.cookies.jar:
                    cookie.secure = False

            client.event_hooks["response"].append(https_cookies)
            client._bench_https_cookies = True
        get_h = {"X-Forwarded-Proto": "https"}
        post_h = {"X-Forwarded-Proto": "https", "Origin": origin}

        def local(url):
            """https://<host>/path (the shop's view of itself) -> /path on the base URL."""
            parts = urlsplit(url)
            if parts.netloc and parts.netloc != host:
                raise AssertionError(f"redirect off-site: {url}")
            return parts.path + (f"?{parts.query}" if parts.query else "")

        items = s.opt("items", 2)
        r = await s.get("list", "/", headers=get_h)
        links = sorted(set(PRODUCT_RE.findall(r.text)))
        s.check(len(links) >= items, "list", f"only {len(links)} product links on the list page")
        for url in s.rng.sample(links, items):
            r = await s.get("product", url, headers=get_h)
            f = s.form(r.text, action_contains="/add/", step="product")
            sizes = VARIANT_RE.findall(r.text)
            s.check(sizes, "product", f"no size in stock on {url}")
            data = dict(f.fields)
            data.update(variant=sizes[0], quantity="1")
            r = await s.post("add_to_basket", f.action, data, headers=post_h)
            s.check(
                local(str(r.url)).endswith("/cart/"),
                "add_to_basket",
                f"add to cart landed on {r.url}",
            )
        r = await s.get("basket", "/cart/", headers=get_h)
        s.check('href="/checkout/"' in r.text, "basket", "cart page has no checkout link")
        # One line per item (the quantity is a stepper: count the lines, not the buttons).
        s.check(
            r.text.count('data-testid="line-quantity"') == items,
            "basket",
            f"cart does not hold {items} lines",
        )

        r = await s.get("checkout", "/checkout/", headers=get_h)
        f = s.form(r.text, has_field="email", step="checkout")
        data = dict(f.fields)
        data.update(
            email=f"guest{s.ident}-{s.rng.randrange(10**9)}@example.com",
            full_name="Camille Martin",
            address_line1="12 rue de la Paix",
            address_line2="",
            postal_code="75002",
            city="Paris",
            country="FR",
            phone="",
        )
        r = await s.post("address", "/checkout/", data, headers=post_h)
        s.check(
            local(str(r.url)) == "/checkout/delivery/",
            "address",
            f"details landed on {r.url} ({r.status_code})",
        )

        f = s.form(r.text, has_field="shipping_method", step="address")
        data = dict(f.fields)
        data["shipping_method"] = "standard"
        r = await s.post("shipping", "/checkout/delivery/", data, headers=post_h)
        s.check(
            local(str(r.url)) == "/checkout/payment/", "shipping", f"delivery landed on {r.url}"
        )

        f = s.form(r.text, has_field="method", step="shipping")
        data = dict(f.fields)
        data["method"] = "card"
        r = await s.post("payment", "/checkout/payment/", data, headers=post_h)
        card_url = local(str(r.url))
        s.check(
            card_url.startswith("/sandbox/pay/"),
            "payment",
            f"payment landed on {r.url}, not the sandbox card page",
        )

        f = s.form(r.text, has_field="number", step="payment")
        data = dict(f.fields)
        data.update(
            number=s.opts.get("card", "4242 4242 4242 4242"), expiry="12/30", security_code="123"
        )
        r = await s.post("card_page", card_url, data, expect=(302,), follow=False, headers=post_h)
        back = local(r.headers.get("location", ""))
        s.check(
            back.startswith("/checkout/payment/return/?session_id="),
            "card_page",
            f"card page sent the shopper to {back!r}",
        )

        r = await s.get("review", back, headers=get_h)
        s.check(local(str(r.url)) == "/checkout/review/", "review", f"return landed on {r.url}")
        f = s.form(r.text, has_field="checkout_token", step="review")
        s.check("4242" in r.text, "review", "review page does not show the card")
        r = await s.post(
            "place_order",
            "/checkout/review/",
            f.fields,
            expect=(302,),
            follow=False,
            headers=post_h,
        )
        location = local(r.headers.get("location", ""))
        s.check(
            ORDER_URL_RE.match(location), "place_order", f"place order redirected to {location!r}"
        )
        s.order_placed(location.split("/")[2])
        r = await s.get("confirmation", location, headers=get_h, expect=(200,))
        number = ORDER_NUMBER_RE.search(r.text)
        s.check(number is not None, "confirmation", "confirmation page shows no order number")
        s.check(
            'data-testid="payment-promise"' in r.text,
            "confirmation",
            "confirmation page does not say the amount is held",
        )
