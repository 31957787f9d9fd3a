# ruff: noqa: S108, S310, S603 (a local benchmark: fixed local URLs and commands)
"""Shipping day (and scale-out): N orders shipped through the admin, captured by the workers.

Starts what it needs, from the project's root, on PostgreSQL and Redis:

    .venv/bin/python bench/shipping_day.py --orders 1000 --workers 2
    .venv/bin/python bench/shipping_day.py --orders 200 --webs 2 --workers 2 --cross-checkout

1. a fresh database (``--database-url``; dropped and re-created), the demo
   catalogue and a staff account; ``--orders`` confirmed, authorized orders
   placed through the checkout service, in this process;
2. ``--webs`` gunicorn processes on consecutive ports and ``--workers``
   ``db_worker`` processes, sharing the database and the Redis cache
   (``CACHE_URL``: sessions);
3. with ``--cross-checkout``, one shopper's checkout over HTTP whose every
   request goes to the other port than the one before: the session lives in
   Redis, so the checkout started on one port finishes on the other;
4. staff (over HTTP) filter the order list on "confirmed", "select all",
   "Mark selected orders shipped", see the confirmation page and confirm (on
   the other port): each request timed; the workers ship in chunks and
   capture each parcel; the progress is polled until the run and every
   capture are done;
5. checks: every order shipped once, every payment captured once (one
   ledger success and one sandbox capture per payment), nothing failed.

Prints a table, then ``BENCH_RESULT {json}``. Processes are stopped by pid.
"""

import argparse
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--webs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8950, help="first web port")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/wt15_shipday")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--cross-checkout", action="store_true")
    parser.add_argument("--timeout", type=float, default=900)
    return parser.parse_args()


class Browser:
    """A cookie jar and the CSRF token, over urllib (no redirects followed)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), self._NoRedirect
        )

    def request(self, base: str, path: str, data: dict | list | None = None):
        """(status, location, body, seconds)."""
        body = None
        headers = {}
        if data is not None:
            token = next((c.value for c in self.jar if c.name == "csrftoken"), "")
            pairs = list(data.items()) if isinstance(data, dict) else list(data)
            body = urllib.parse.urlencode([*pairs, ("csrfmiddlewaretoken", token)]).encode()
            headers["Origin"] = base
        req = urllib.request.Request(base + path, data=body, headers=headers)
        started = time.perf_counter()
        try:
            with self.opener.open(req, timeout=60) as response:
                status, text, location = response.status, response.read().decode(), ""
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode(errors="replace")
            location = error.headers.get("Location", "")
        seconds = time.perf_counter() - started
        if location.startswith("http"):
            location = urllib.parse.urlsplit(location)._replace(scheme="", netloc="").geturl()
        return status, location, text, seconds


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer")


def cross_checkout(bases: list[str]) -> dict:
    """One shopper; each request on the other port than the one before."""
    b = Browser()
    turn = iter(range(10**6))

    def go(path, data=None, expect=(200, 302)):
        base = bases[next(turn) % len(bases)]
        status, location, text, _s = b.request(base, path, data)
        if status not in expect:
            raise SystemExit(f"cross checkout: {path} on {base} answered {status}")
        return location, text

    _loc, page = go("/")
    slugs = re.findall(r'href="(/products/[-\w]+/)"', page)[:2]
    for slug in slugs:
        _loc, page = go(slug)
        variant = re.search(r'name="variant" value="(\d+)"(?![^>]*disabled)', page)[1]
        go(slug + "add/", {"variant": variant, "quantity": "1"})
    go("/checkout/")
    details = {
        "email": "scale-out@example.com",
        "full_name": "Camille Martin",
        "address_line1": "12 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
        "country": "FR",
    }
    go("/checkout/", details)
    go("/checkout/delivery/", {"shipping_method": "standard"})
    card_page, _t = go("/checkout/payment/", {"method": "card"})
    go(card_page)
    back, _t = go(
        card_page, {"number": "4242 4242 4242 4242", "expiry": "12/34", "security_code": "123"}
    )
    go(back)
    _loc, page = go("/checkout/review/")
    token = re.search(r'name="checkout_token" value="([^"]+)"', page)[1]
    confirmation, _t = go("/checkout/review/", {"checkout_token": token})
    _loc, page = go(confirmation)
    number = re.search(r'data-testid="order-number">([^<]+)<', page)
    if not number:
        raise SystemExit("cross checkout: the confirmation page shows no order number")
    return {"order_number": number[1], "requests": next(turn), "ports": len(bases)}


def main() -> None:
    args = parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "CACHE_URL": args.cache_url,
        "DEBUG": "True",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(DATABASE_URL=args.database_url, CACHE_URL=args.cache_url, DEBUG="True")
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "shipping-day-logs"
    logs.mkdir(exist_ok=True)
    db = urllib.parse.urlsplit(args.database_url)
    admin_url = db._replace(path="/postgres").geturl()
    name = db.path.lstrip("/")
    subprocess.run([PY, "-c", _RECREATE_DB, admin_url, name], check=True, cwd=ROOT, env=env)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=env)
    subprocess.run(
        [PY, "manage.py", "load_demo_catalogue"],
        check=True,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache

    from orders.models import Order, OrderStatus, Shipment, ShippingRun
    from payments.models import LedgerEvent, LedgerOperation, Payment, PaymentLedgerEntry
    from payments.providers.sandbox.models import SandboxCapture
    from shop.models import ProductVariant
    from tests.helpers import place_order

    cache.clear()
    ProductVariant.objects.update(stock=10_000_000)
    get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-pass")
    variants = list(ProductVariant.objects.values_list("pk", flat=True)[:6])
    started = time.perf_counter()
    for i in range(args.orders):
        place_order({variants[i % 6]: 1, variants[(i + 1) % 6]: 1})
    placing = time.perf_counter() - started

    procs: list[subprocess.Popen] = []
    result: dict = {"orders": args.orders, "webs": args.webs, "workers": args.workers}
    try:
        bases = []
        for k in range(args.webs):
            port = args.port + k
            procs.append(
                start(
                    [
                        PY,
                        "-m",
                        "gunicorn",
                        "shop.wsgi",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--workers",
                        "2",
                        "--log-level",
                        "warning",
                    ],
                    env,
                    logs / f"web-{port}.log",
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            wait_http(base + "/")
        if args.cross_checkout:
            result["cross_checkout"] = cross_checkout(bases)

        staff = Browser()
        staff.request(bases[0], "/admin/login/")
        status, _l, _t, _s = staff.request(
            bases[0],
            "/admin/login/?next=/admin/",
            {"username": "bench", "password": "bench-pass", "next": "/admin/"},
        )
        assert status == 302, f"admin login answered {status}"
        changelist = "/admin/orders/order/?status__exact=confirmed"
        first = Order.objects.filter(status=OrderStatus.CONFIRMED).order_by("pk").first()
        status, run_url, _t, action_s = staff.request(
            bases[0],
            changelist,
            [
                ("action", "mark_shipped"),
                ("select_across", "1"),
                ("index", "0"),
                ("_selected_action", str(first.pk)),
            ],
        )
        assert status == 302 and "shipping-runs" in run_url, (status, run_url)
        page_base = bases[-1]
        status, _l, _page, confirm_page_s = staff.request(page_base, run_url)
        assert status == 200, status
        status, _l, _t, confirm_s = staff.request(page_base, run_url, {"carrier": "colissimo"})
        assert status == 302, status
        confirmed_at = time.perf_counter()
        run = ShippingRun.objects.latest("pk")

        for k in range(args.workers):
            procs.append(
                start(
                    [PY, "manage.py", "db_worker", "--interval", "0.2", "--no-startup-delay"],
                    env,
                    logs / f"worker-{k}.log",
                )
            )
        progress_url = run_url + "progress/"
        shipped_s = captured_s = None
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            _st, _l, body, _s = staff.request(bases[0], progress_url)
            progress = json.loads(body)
            if progress["finished"] and shipped_s is None:
                shipped_s = time.perf_counter() - confirmed_at
            if shipped_s is not None:
                captured = PaymentLedgerEntry.objects.filter(
                    operation=LedgerOperation.CAPTURE, event=LedgerEvent.SUCCEEDED
                ).count()
                if captured >= progress["shipped"]:
                    captured_s = time.perf_counter() - confirmed_at
                    break
            time.sleep(0.5)
        status, _l, _report, report_s = staff.request(page_base, run_url)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    per_payment = PaymentLedgerEntry.objects.filter(
        operation=LedgerOperation.CAPTURE, event=LedgerEvent.SUCCEEDED
    ).values_list("payment_id", flat=True)
    shipped_orders = Shipment.objects.values("order_id").distinct().count()
    checks = {
        "orders_shipped": shipped_orders,
        "shipments": Shipment.objects.count(),
        "payments_captured": Payment.objects.filter(status="captured").count(),
        "capture_successes": len(per_payment),
        "payments_captured_twice": len(per_payment) - len(set(per_payment)),
        "sandbox_captures": SandboxCapture.objects.count(),
        "run_results": run.results.count(),
    }
    expected = args.orders + (1 if args.cross_checkout else 0)
    ok = (
        checks["orders_shipped"] == checks["shipments"] == expected
        and checks["capture_successes"] == checks["sandbox_captures"] == expected
        and checks["payments_captured_twice"] == 0
    )
    result.update(
        placing_s=round(placing, 2),
        action_s=round(action_s, 3),
        confirmation_page_s=round(confirm_page_s, 3),
        confirm_s=round(confirm_s, 3),
        shipped_s=shipped_s and round(shipped_s, 2),
        captured_s=captured_s and round(captured_s, 2),
        captures_per_s=captured_s and round(expected / captured_s, 1),
        report_page_s=round(report_s, 3),
        checks=checks,
        exactly_once=ok,
    )
    rows = [
        ("orders placed (in process)", f"{args.orders} in {placing:.1f} s"),
        ("select all + action (request)", f"{action_s * 1000:.0f} ms"),
        ("confirmation page (request)", f"{confirm_page_s * 1000:.0f} ms"),
        ("confirm (request)", f"{confirm_s * 1000:.0f} ms"),
        (f"all shipped ({args.workers} workers)", f"{shipped_s:.1f} s" if shipped_s else "timeout"),
        ("all captured", f"{captured_s:.1f} s" if captured_s else "timeout"),
        ("report page (request)", f"{report_s * 1000:.0f} ms"),
        ("exactly once", "yes" if ok else f"NO {checks}"),
    ]
    if "cross_checkout" in result:
        cc = result["cross_checkout"]
        rows.insert(
            0, ("checkout across ports", f"{cc['requests']} requests, order {cc['order_number']}")
        )
    width = max(len(label) for label, _v in rows)
    print(f"shipping day: {args.webs} web, {args.workers} workers, {expected} orders")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    print("BENCH_RESULT " + json.dumps(result, sort_keys=True))
    sys.exit(0 if ok else 1)


_RECREATE_DB = """
import sys, psycopg
url, name = sys.argv[1], sys.argv[2]
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{name}"')
"""


if __name__ == "__main__":
    main()
