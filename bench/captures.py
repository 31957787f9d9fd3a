#!/usr/bin/env python3
"""Shipping-day captures: how fast the workers capture N shipped orders, exactly once.

    .venv/bin/python bench/captures.py --orders 1000 --scenarios 0:1,0:2,300:1,300:2

A scenario ``LATENCY:WORKERS`` runs WORKERS ``manage.py worker`` processes
(``--threads`` each) with ``SANDBOX_LATENCY_MS=LATENCY`` on a fresh copy of a
seeded PostgreSQL database holding N confirmed orders, each shipped (so its
capture is queued, as staff marking it shipped does). Throughput is N over
the time between the first capture task starting and the last one finishing
(from the task rows, so process start-up is not counted). Then it checks that
the sandbox captured each charge exactly once and that the ledger has one
success per capture key. Prints a table, then one ``BENCH_RESULT {json}`` line.

Needs PostgreSQL (``--server``, default postgres://postgres@127.0.0.1:5432);
creates and drops the databases ``<prefix>_seed`` and ``<prefix>_run``.
"""

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def _admin(server: str, sql: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _env(server: str, db: str, **extra: object) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("EMAIL_URL", None)
    env["DATABASE_URL"] = f"{server}/{db}"
    env["LOG_LEVEL"] = "WARNING"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def seed(server: str, prefix: str, orders: int) -> float:
    """Create ``<prefix>_seed`` with ``orders`` shipped orders; returns the seconds it took."""
    started = time.monotonic()
    db = f"{prefix}_seed"
    _admin(server, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    _admin(server, f'CREATE DATABASE "{db}"')
    env = _env(server, db)
    migrate = [PYTHON, "manage.py", "migrate", "-v0"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True)  # noqa: S603 - fixed arguments
    subprocess.run(  # noqa: S603 - fixed arguments
        [PYTHON, str(Path(__file__)), "--fill", str(orders)], cwd=ROOT, env=env, check=True
    )
    return time.monotonic() - started


def fill(orders: int) -> None:
    """In the seed database: ``orders`` orders placed through the checkout, then shipped."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    import django

    django.setup()
    from orders.services import order_ship
    from tests.factories import ProductVariantFactory
    from tests.helpers import place_order

    variant = ProductVariantFactory(product__price_amount=2500, stock=orders)
    for _ in range(orders):
        order = place_order({variant.pk: 1})
        order_ship(order_id=order.pk, carrier="colissimo")


COUNTS = """
SELECT
  (SELECT count(*) FROM payments_paymentledgerentry
    WHERE operation = 'capture' AND event = 'succeeded'),
  (SELECT count(DISTINCT idempotency_key) FROM payments_paymentledgerentry
    WHERE operation = 'capture' AND event = 'succeeded'),
  (SELECT count(*) FROM sandbox_sandboxcapture),
  (SELECT count(DISTINCT charge_id) FROM sandbox_sandboxcapture),
  (SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING')
"""
WINDOW = """
SELECT min(started_at), max(finished_at) FROM django_tasks_database_dbtaskresult
WHERE task_path = 'payments.operations.engine.payment_operation_run_task'
"""


def scenario(server: str, prefix: str, orders: int, latency: int, workers: int, threads: int):
    db = f"{prefix}_run"
    _admin(server, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    _admin(server, f'CREATE DATABASE "{db}" TEMPLATE "{prefix}_seed"')
    env = _env(server, db, SANDBOX_LATENCY_MS=latency, TASK_WORKER_THREADS=threads)
    processes = [
        subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [PYTHON, "manage.py", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    deadline = time.monotonic() + max(600, orders * latency / 1000 * 2)
    try:
        with psycopg.connect(f"{server}/{db}", autocommit=True) as conn:
            while time.monotonic() < deadline:
                succeeded = conn.execute(COUNTS).fetchone()[0]
                if succeeded >= orders:
                    break
                time.sleep(0.5)
            time.sleep(1)  # let the last task rows be written
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)  # a clean stop: the tasks in hand finish
        exits = [process.wait(timeout=120) for process in processes]
    with psycopg.connect(f"{server}/{db}", autocommit=True) as conn:
        first, last = conn.execute(WINDOW).fetchone()
        succeeded, keys, captures, charges, running = conn.execute(COUNTS).fetchone()
    seconds = (last - first).total_seconds() if first and last else None
    return {
        "latency_ms": latency,
        "workers": workers,
        "threads_per_worker": threads,
        "captures": succeeded,
        "seconds": round(seconds, 2) if seconds else None,
        "captures_per_s": round(succeeded / seconds, 1) if seconds else None,
        "exactly_once": succeeded == keys == captures == charges == orders,
        "tasks_left_running_after_stop": running,
        "clean_exits": exits == [0] * workers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--scenarios", default="0:1,0:2,300:1,300:2", help="LATENCY_MS:WORKERS,…")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--prefix", default="bench_captures")
    parser.add_argument("--reuse-seed", action="store_true", help="keep <prefix>_seed if made")
    parser.add_argument("--fill", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        fill(args.fill)
        return
    scenarios = [tuple(int(x) for x in item.split(":")) for item in args.scenarios.split(",")]
    seed_seconds = (
        None if args.reuse_seed else round(seed(args.server, args.prefix, args.orders), 1)
    )
    results = [
        scenario(args.server, args.prefix, args.orders, latency, workers, args.threads)
        for latency, workers in scenarios
    ]
    _admin(args.server, f'DROP DATABASE IF EXISTS "{args.prefix}_run" WITH (FORCE)')

    header = ["latency ms", "workers", "threads", "captures", "seconds", "captures/s", "once"]
    print(" | ".join(f"{h:>10}" for h in header))
    for r in results:
        row = [
            r["latency_ms"],
            r["workers"],
            r["threads_per_worker"],
            r["captures"],
            r["seconds"],
            r["captures_per_s"],
            "yes" if r["exactly_once"] and not r["tasks_left_running_after_stop"] else "NO",
        ]
        print(" | ".join(f"{v!s:>10}" for v in row))
    print(
        "BENCH_RESULT "
        + json.dumps(
            {
                "bench": "captures",
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.node()} {os.cpu_count()} cpu",
                "orders": args.orders,
                "seed_seconds": seed_seconds,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
