"""Heartbeats and the reaper: a dead worker's tasks go back to the queue by themselves.

Every worker writes ``WorkerProcess.last_seen_at`` every
``TASK_WORKER_HEARTBEAT_SECONDS``. A worker silent for
``TASK_WORKER_DEAD_AFTER_SECONDS`` (killed, its machine gone) is dead: every
worker, each time round its loop, puts the tasks a dead worker left
``RUNNING`` back to ``READY``, and another worker runs them again. Running a
task twice is safe: money operations are exactly-once through the ledger and
the provider's idempotency keys, e-mails through their claim.
"""

import logging
import os
import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from worker.models import WorkerProcess

logger = logging.getLogger(__name__)


def dead_after() -> timedelta:
    return timedelta(seconds=settings.TASK_WORKER_DEAD_AFTER_SECONDS)


def worker_register(worker_id: str, *, threads: int) -> WorkerProcess:
    """Record a starting worker (its first heartbeat)."""
    return WorkerProcess.objects.create(
        worker_id=worker_id,
        hostname=socket.gethostname()[:255],
        pid=os.getpid(),
        threads=threads,
        last_seen_at=timezone.now(),
    )


def worker_heartbeat(worker_id: str) -> None:
    WorkerProcess.objects.filter(worker_id=worker_id).update(last_seen_at=timezone.now())


def worker_stopped(worker_id: str) -> None:
    now = timezone.now()
    WorkerProcess.objects.filter(worker_id=worker_id).update(last_seen_at=now, stopped_at=now)


def workers_alive(now: datetime | None = None):
    now = now or timezone.now()
    return WorkerProcess.objects.filter(
        stopped_at__isnull=True, last_seen_at__gte=now - dead_after()
    )


def tasks_reap(now: datetime | None = None) -> list[str]:
    """Put back to ``READY`` the tasks left ``RUNNING`` by a worker that is not alive.

    A task is only taken back once it has run longer than the dead-worker
    delay and its worker has no fresh heartbeat (or never had one: a task
    claimed by a process that is not a ``manage.py worker``).
    """
    now = now or timezone.now()
    cutoff = now - dead_after()
    alive = set(workers_alive(now).values_list("worker_id", flat=True))
    reaped = []
    running = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=cutoff
    ).only("pk", "worker_ids", "started_at", "task_path")
    for result in running[:500]:
        owner = result.worker_ids[-1] if result.worker_ids else ""
        if owner in alive:
            continue
        with transaction.atomic():
            taken_back = DBTaskResult.objects.filter(
                pk=result.pk, status=TaskResultStatus.RUNNING, started_at=result.started_at
            ).update(status=TaskResultStatus.READY, started_at=None, run_after=now)
        if taken_back:
            logger.warning(
                "Task %s (%s) was left running by dead worker %s: queued again",
                result.pk,
                result.task_path,
                owner or "?",
            )
            reaped.append(str(result.pk))
    return reaped
