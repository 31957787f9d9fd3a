#!/usr/bin/env python3
"""The shared peer matrix with two ceilings run beside the shop, Oscar and the floor.

    DRIVER_PY=$PWD/bench/ceilings.py SHOP_FLOW=$PWD/bench/flows/shop.py SKIP_SETUP=1 \\
        bash ../shared/bench/run_shop_matrix.sh

``run_shop_matrix.sh`` starts the three servers and runs its driver
(``DRIVER_PY``) on ``bench_matrix.py``; this stands in for that driver and
adds two targets on the same servers, measured in the same interleaved run:

- ``floor20``: the floor's flow with ``pages=18``: 20 requests per order, each
  a bare Django view (18 cheap GETs, the form, the POST writing the order):
  what any 20-request journey can do on this machine with this driver;
- ``shop_pages``: the shop's cheapest page (``/legal/terms/``: no SQL, no
  form) 20 times per "order" (``bench/flows/shop_pages.py``): the shop's own
  middleware and layout, before any catalogue, cart, form, SQL or payment.

Every other argument goes through unchanged; the real driver is
``CEILINGS_DRIVER_PY`` (default ``/tmp/bench-driver-venv/bin/python``).
"""

import os
import sys
from pathlib import Path

# The shared harness keeps its driver venv there (setup_driver.sh).
REAL = os.environ.get(
    "CEILINGS_DRIVER_PY",
    "/tmp/bench-driver-venv/bin/python",  # noqa: S108
)
SHOP_PAGES = str(Path(__file__).resolve().parent / "flows" / "shop_pages.py")


def with_ceilings(args: list[str]) -> list[str]:
    urls, pids = {}, {}
    for i, arg in enumerate(args):
        if arg == "--target":
            urls[args[i + 1]] = args[i + 3]
        elif arg == "--server-pid":
            pids[args[i + 1]] = args[i + 2]
    extra = ["--target", "floor20", "floor", urls["floor"], "--target-opt", "floor20", "pages=18"]
    extra += ["--target", "shop_pages", SHOP_PAGES, urls["shop"]]
    for label, server in (("floor20", "floor"), ("shop_pages", "shop")):
        if server in pids:
            extra += ["--server-pid", label, pids[server]]
    return [*args, *extra]


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0].endswith("bench_matrix.py"):
        args = with_ceilings(args)
    os.execv(REAL, [REAL, *args])  # noqa: S606 (the driver, with its own arguments)
