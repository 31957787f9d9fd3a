#!/usr/bin/env python3
"""Shipping-day captures: how fast the workers capture N shipped orders, exactly once.

    .venv/bin/python bench/captures.py --orders 1000 --scenarios 0:1,0:2,300:1,300:2

A scenario ``LATENCY:WORKERS`` runs WORKERS ``manage.py worker`` processes
(``--threads`` each) with ``SANDBOX_LATENCY_MS=LATENCY`` on a fresh copy of a
seeded PostgreSQL database holding N confirmed orders, each shipped (so its
capture is queued, as staff marking it shipped does). Throughput is N over
the time between the first capture task starting and the last one finishing
(from the task rows, so process start-up is not counted). The seed's
order-placed e-mails are marked sent (they left long before shipping day), so
a run is the captures and the debit e-mails they queue (rendered and
written as files to a temporary folder, removed at the end); the workers are
stopped (SIGTERM) once every task is done. Then it checks that the sandbox
captured each charge exactly once and that the ledger has one success per
capture key.

Per scenario it also reads, from ``/proc`` (PostgreSQL on this machine), the
CPU the workers used after start-up and the CPU of their PostgreSQL
backends, divided by the captures (each with its debit e-mail): CPU per
capture does not depend on the machine's load, so a figure taken on a busy
machine projects to a quiet one (two cores give at most 2 / CPU-per-capture
captures a second). The load average (``/proc/loadavg``) at the start and
end of each run is printed beside it. Prints a table, then one
``BENCH_RESULT {json}`` line.

Needs PostgreSQL (``--server``, default postgres://postgres@127.0.0.1:5432);
creates and drops the databases ``<prefix>_seed`` and ``<prefix>_run``.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
CAPTURE_TASK = "payments.operations.engine.payment_operation_run_task"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (all its threads), or None once it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def load_average() -> float:
    with open("/proc/loadavg") as loadavg:
        return float(loadavg.read().split()[0])


def _admin(server: str, sql: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql)


# The debit e-mails are rendered and written as files, as in development, but
# to a folder of their own, removed at the end (not var/mail).
MAIL_DIR = Path(tempfile.gettempdir()) / f"bench-captures-mail-{os.getpid()}"


def _env(server: str, db: str, **extra: object) -> dict[str, str]:
    env = dict(os.environ)
    env["EMAIL_URL"] = f"filemail://{MAIL_DIR}"
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
    # The order-placed e-mails left long before shipping day: only captures remain queued.
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from payments.models import CustomerEmail

    now = timezone.now()
    CustomerEmail.objects.update(sent_at=now)
    DBTaskResult.objects.exclude(task_path=CAPTURE_TASK).update(
        status="SUCCESSFUL", started_at=now, finished_at=now
    )


COUNTS = """
SELECT
  (SELECT count(*) FROM payments_paymentledgerentry
    WHERE operation = 'capture' AND event = 'succeeded'),
  (SELECT count(DISTINCT idempotency_key) FROM payments_paymentledgerentry
    WHERE operation = 'capture' AND event = 'succeeded'),
  (SELECT count(*) FROM sandbox_sandboxcapture),
  (SELECT count(DISTINCT charge_id) FROM sandbox_sandboxcapture),
  (SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING'),
  (SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING'
    OR (status = 'READY' AND (run_after <= now() OR run_after > now() + interval '100 years'))),
  (SELECT count(*) FROM payments_customeremail WHERE kind = 'captured' AND sent_at IS NOT NULL),
  (SELECT count(*) FROM worker_workerprocess WHERE stopped_at IS NULL)
"""
BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
WINDOW = """
SELECT min(started_at), max(finished_at) FROM django_tasks_database_dbtaskresult
WHERE task_path = 'payments.operations.engine.payment_operation_run_task'
"""


def scenario(server: str, prefix: str, orders: int, latency: int, workers: int, threads: int):
    db = f"{prefix}_run"
    _admin(server, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    _admin(server, f'CREATE DATABASE "{db}" TEMPLATE "{prefix}_seed"')
    env = _env(server, db, SANDBOX_LATENCY_MS=latency, TASK_WORKER_THREADS=threads)
    load_start = load_average()
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
    startup_cpu: dict[int, float] = {}
    worker_cpu: dict[int, float] = {}
    backend_cpu: dict[int, float] = {}

    def sample(conn) -> None:
        for process in processes:
            if (cpu := cpu_seconds(process.pid)) is not None:
                worker_cpu[process.pid] = cpu
        for (pid,) in conn.execute(BACKENDS, (db,)).fetchall():
            if (cpu := cpu_seconds(pid)) is not None:
                backend_cpu[pid] = cpu

    try:
        with psycopg.connect(f"{server}/{db}", autocommit=True) as conn:
            # Start-up (Python, Django, migrations check) is not the captures' cost.
            while time.monotonic() < deadline and conn.execute(COUNTS).fetchone()[7] < workers:
                time.sleep(0.02)
            for process in processes:
                startup_cpu[process.pid] = cpu_seconds(process.pid) or 0.0
            backends_before = {pid for (pid,) in conn.execute(BACKENDS, (db,)).fetchall()}
            backend_start = {pid: cpu_seconds(pid) or 0.0 for pid in backends_before}
            while time.monotonic() < deadline:
                sample(conn)
                succeeded, *_rest, queued, _emails, _alive = conn.execute(COUNTS).fetchone()
                if succeeded >= orders and queued == 0:
                    break
                time.sleep(0.5)
            sample(conn)
            load_end = load_average()
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)  # a clean stop: the tasks in hand finish
        exits = [process.wait(timeout=120) for process in processes]
    with psycopg.connect(f"{server}/{db}", autocommit=True) as conn:
        first, last = conn.execute(WINDOW).fetchone()
        succeeded, keys, captures, charges, running, _queued, emails, _alive = conn.execute(
            COUNTS
        ).fetchone()
    seconds = (last - first).total_seconds() if first and last else None
    cpu_workers = sum(worker_cpu.values()) - sum(startup_cpu.values())
    cpu_postgres = sum(backend_cpu.values()) - sum(backend_start.values())
    per = max(succeeded, 1)
    return {
        "latency_ms": latency,
        "workers": workers,
        "threads_per_worker": threads,
        "captures": succeeded,
        "debit_emails_sent": emails,
        "seconds": round(seconds, 2) if seconds else None,
        "captures_per_s": round(succeeded / seconds, 1) if seconds else None,
        "worker_cpu_s": round(cpu_workers, 2),
        "postgres_cpu_s": round(cpu_postgres, 2),
        "cpu_ms_per_capture": round((cpu_workers + cpu_postgres) * 1000 / per, 1),
        "worker_cpu_ms_per_capture": round(cpu_workers * 1000 / per, 1),
        "postgres_cpu_ms_per_capture": round(cpu_postgres * 1000 / per, 1),
        "load_average_start": load_start,
        "load_average_end": load_end,
        "exactly_once": succeeded == keys == captures == charges == orders,
        "tasks_left_running_after_stop": running,
        "clean_exits": exits == [0] * workers,
    }


def git_revision() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


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
    header = [
        "latency ms",
        "workers",
        "threads",
        "captures",
        "e-mails",
        "seconds",
        "captures/s",
        "CPU ms/cap",
        "worker ms",
        "PG ms",
        "load",
        "once",
        "clean stop",
    ]
    print(" | ".join(f"{h:>10}" for h in header), flush=True)
    results = []
    for latency, workers in scenarios:
        r = scenario(args.server, args.prefix, args.orders, latency, workers, args.threads)
        results.append(r)
        row = [
            r["latency_ms"],
            r["workers"],
            r["threads_per_worker"],
            r["captures"],
            r["debit_emails_sent"],
            r["seconds"],
            r["captures_per_s"],
            r["cpu_ms_per_capture"],
            r["worker_cpu_ms_per_capture"],
            r["postgres_cpu_ms_per_capture"],
            f"{r['load_average_start']}-{r['load_average_end']}",
            "yes" if r["exactly_once"] and not r["tasks_left_running_after_stop"] else "NO",
            "yes" if r["clean_exits"] else "NO",
        ]
        print(" | ".join(f"{v!s:>10}" for v in row), flush=True)
    _admin(args.server, f'DROP DATABASE IF EXISTS "{args.prefix}_run" WITH (FORCE)')
    shutil.rmtree(MAIL_DIR, ignore_errors=True)
    cpu = [r["cpu_ms_per_capture"] for r in results if r["captures"]]
    if cpu:
        print(
            f"CPU per capture (worker + PostgreSQL, with its e-mail): {min(cpu)}-{max(cpu)} ms; "
            f"two idle cores allow at most {round(2000 / max(cpu))}-{round(2000 / min(cpu))} "
            "captures/s."
        )
    print(
        "BENCH_RESULT "
        + json.dumps(
            {
                "bench": "captures",
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.node()} {os.cpu_count()} cpu",
                "orders": args.orders,
                "git": git_revision(),
                "seed_seconds": seed_seconds,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
