#!/usr/bin/env python3
"""Where a capture task's time goes: statements, transactions and CPU, one task at a time.

    .venv/bin/python bench/captures.py --orders 200 --scenarios 0:1   # makes <prefix>_seed
    .venv/bin/python bench/capture_profile.py --prefix bench_captures --tasks 200

On a fresh copy of ``<prefix>_seed`` (made by ``bench/captures.py``), runs the
worker's own claim and task code (``worker.runner.Worker``) in this process on
one thread, one task after the other, and counts per capture task: the SQL
statements by kind (claim, payment lock, ledger, provider, e-mail, task row…),
the transactions (each ``atomic`` commit, each statement outside one), the
CPU of this process and of its PostgreSQL backend (``/proc``, same machine).
The debit e-mail tasks the captures queue are counted apart (they are left
queued). Prints a table and one ``PROFILE_RESULT {json}`` line.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")

KINDS = [
    # (label, pattern on the SQL), first match wins.
    ("task row: claim / result", r"django_tasks_database_dbtaskresult"),
    ("payment lock / update", r'"payments_payment"'),
    ("ledger", r"payments_paymentledgerentry"),
    ("provider (sandbox)", r"sandbox_"),
    ("e-mail enqueue", r"payments_customeremail"),
    ("order / shipment reads", r'"orders_(order|shipment)"'),
    ("worker bookkeeping", r"worker_"),
    ("health check", r"^SELECT 1$"),
]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def kind_of(sql: str) -> str:
    for label, pattern in KINDS:
        if re.search(pattern, sql):
            return label
    return "other"


def profile(tasks: int) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    import django

    django.setup()
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    from worker.runner import Worker

    capture_path = "payments.operations.engine.payment_operation_run_task"
    statements: Counter = Counter()
    state = {"commits": 0, "autocommit_statements": 0}

    def count(execute, sql, params, many, context):
        statements[kind_of(sql)] += 1
        if not connection.in_atomic_block:
            state["autocommit_statements"] += 1
        return execute(sql, params, many, context)

    original_commit = connection.commit

    def commit():
        state["commits"] += 1
        return original_commit()

    worker = Worker(worker_id="profile", threads=1, queue_names=("default",))

    connection.ensure_connection()
    backend_pid = connection.connection.info.backend_pid
    ran = 0
    with connection.execute_wrapper(count):
        connection.commit = commit
        cpu_worker, cpu_db, wall = time.process_time(), cpu_seconds(backend_pid), time.monotonic()
        while ran < tasks:
            claimed = worker.claim(1, task_paths=[capture_path])
            if not claimed:
                break
            for db_result in claimed:
                worker.run_task(db_result)
                ran += 1
        cpu_worker = time.process_time() - cpu_worker
        cpu_db = cpu_seconds(backend_pid) - cpu_db
        wall = time.monotonic() - wall
        connection.commit = original_commit
    emails_queued = DBTaskResult.objects.exclude(task_path=capture_path).ready().count()
    per = max(ran, 1)
    return {
        "capture_tasks": ran,
        "statements_per_task": {k: round(v / per, 2) for k, v in sorted(statements.items())},
        "statements_total_per_task": round(sum(statements.values()) / per, 2),
        "transactions_per_task": round(
            (state["commits"] + state["autocommit_statements"]) / per, 2
        ),
        "atomic_commits_per_task": round(state["commits"] / per, 2),
        "worker_cpu_ms_per_task": round(cpu_worker * 1000 / per, 2),
        "postgres_cpu_ms_per_task": round(cpu_db * 1000 / per, 2),
        "wall_ms_per_task": round(wall * 1000 / per, 2),
        "email_tasks_queued": emails_queued,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--prefix", default="bench_captures")
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print("PROFILE_RESULT " + json.dumps(profile(args.tasks)))
        return
    db = f"{args.prefix}_profile"
    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{args.prefix}_seed"')
    env = dict(os.environ, DATABASE_URL=f"{args.server}/{db}", LOG_LEVEL="WARNING")
    env.pop("EMAIL_URL", None)
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, __file__, "--run", "--tasks", str(args.tasks)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    line = next(x for x in done.stdout.splitlines() if x.startswith("PROFILE_RESULT "))
    result = json.loads(line.removeprefix("PROFILE_RESULT "))
    for key, value in result.items():
        if isinstance(value, dict):
            for sub, figure in value.items():
                print(f"  {key}: {sub:<28} {figure}")
        else:
            print(f"{key:<34} {value}")
    print(line)


if __name__ == "__main__":
    main()
