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
Then the same for the debit e-mail tasks the captures queued (sent to
``var/mail``, without ``EMAIL_URL``). Prints a table and one ``PROFILE_RESULT {json}`` line.
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


CAPTURE_TASK = "payments.operations.engine.payment_operation_run_task"
EMAIL_TASK = "payments.emails.customer_email_send_task"


def profile(tasks: int) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    import django

    django.setup()
    from django.db import connection

    from worker.runner import Worker

    statements: Counter = Counter()
    state = {"commits": 0, "autocommit_statements": 0}

    def count(execute, sql, params, many, context):
        statements[kind_of(sql)] += 1
        if not connection.in_atomic_block:
            state["autocommit_statements"] += 1
        return execute(sql, params, many, context)

    original_commit, original_is_usable = connection.commit, connection.is_usable

    def commit():
        state["commits"] += 1
        return original_commit()

    def is_usable():
        statements["health check (SELECT 1)"] += 1
        state["autocommit_statements"] += 1
        return original_is_usable()

    worker = Worker(worker_id="profile", threads=1, queue_names=("default",))

    def phase(task_path: str) -> dict:
        connection.ensure_connection()
        backend_pid = connection.connection.info.backend_pid
        statements.clear()
        state.update(commits=0, autocommit_statements=0)
        ran = 0
        with connection.execute_wrapper(count):
            connection.commit, connection.is_usable = commit, is_usable
            cpu, cpu_db, wall = time.process_time(), cpu_seconds(backend_pid), time.monotonic()
            while ran < tasks:
                claimed = worker.claim(1, task_paths=[task_path])
                if not claimed:
                    break
                for db_result in claimed:
                    worker.run_task(db_result)
                    ran += 1
            cpu = time.process_time() - cpu
            cpu_db = cpu_seconds(backend_pid) - cpu_db
            wall = time.monotonic() - wall
            connection.commit, connection.is_usable = original_commit, original_is_usable
        per = max(ran, 1)
        return {
            "tasks": ran,
            "statements_per_task": {k: round(v / per, 2) for k, v in sorted(statements.items())},
            "statements_total_per_task": round(sum(statements.values()) / per, 2),
            "transactions_per_task": round(
                (state["commits"] + state["autocommit_statements"]) / per, 2
            ),
            "worker_cpu_ms_per_task": round(cpu * 1000 / per, 2),
            "postgres_cpu_ms_per_task": round(cpu_db * 1000 / per, 2),
            "wall_ms_per_task": round(wall * 1000 / per, 2),
        }

    # One claim per task here (one thread): the worker claims up to its free threads.
    return {"capture": phase(CAPTURE_TASK), "debit e-mail": phase(EMAIL_TASK)}


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
    # One connection throughout (its backend's CPU is read from /proc).
    env = dict(
        os.environ, DATABASE_URL=f"{args.server}/{db}", LOG_LEVEL="WARNING", CONN_MAX_AGE="3600"
    )
    env.pop("EMAIL_URL", None)
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, __file__, "--run", "--tasks", str(args.tasks)],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    line = next(x for x in done.stdout.splitlines() if x.startswith("PROFILE_RESULT "))
    result = json.loads(line.removeprefix("PROFILE_RESULT "))
    for task, figures in result.items():
        print(f"{task} task")
        for key, value in figures.items():
            if isinstance(value, dict):
                for sub, figure in value.items():
                    print(f"  {key}: {sub:<28} {figure}")
            else:
                print(f"  {key:<34} {value}")
    print(line)


if __name__ == "__main__":
    main()
