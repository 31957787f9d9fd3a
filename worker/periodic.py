"""Periodic work that cannot be lost: queued by whichever worker runs, never twice at once.

``TASK_PERIODIC`` names each job, the function it runs and how often. Each
worker, every few seconds, locks the job's ``PeriodicTask`` row: when
``next_run_at`` has passed it moves it one interval on and enqueues the run in
the same transaction, so one run is queued per interval however many workers
there are, and none if no worker runs. A run takes a lease (the id of its task)
that holds while that task is ``RUNNING``: a second run meanwhile does nothing;
a run whose worker died is put back in the queue by the reaper and takes its
own lease again.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.tasks import TaskContext, TaskResultStatus, task
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from worker.models import PeriodicTask

logger = logging.getLogger(__name__)


def periodic_interval(name: str) -> timedelta:
    return timedelta(seconds=settings.TASK_PERIODIC[name]["every"])


def periodic_dispatch(now: datetime | None = None) -> list[str]:
    """Enqueue every periodic job that is due; returns the names queued."""
    now = now or timezone.now()
    queued = []
    for name in settings.TASK_PERIODIC:
        # get_or_create retries the get if another worker created the row meanwhile.
        PeriodicTask.objects.get_or_create(name=name, defaults={"next_run_at": now})
        with transaction.atomic():
            job = PeriodicTask.objects.select_for_update().get(name=name)
            if job.next_run_at > now:
                continue
            job.next_run_at = now + periodic_interval(name)
            job.last_enqueued_at = now
            job.save(update_fields=["next_run_at", "last_enqueued_at"])
            periodic_run_task.enqueue(name=name)
        queued.append(name)
    return queued


def _lease_held(run_id: str) -> bool:
    return DBTaskResult.objects.filter(pk=run_id, status=TaskResultStatus.RUNNING).exists()


def periodic_run(name: str, *, run_id: str) -> str:
    """Run the job once unless another run holds the lease."""
    spec = settings.TASK_PERIODIC[name]
    with transaction.atomic():
        job = PeriodicTask.objects.select_for_update().get(name=name)
        holder = job.running_task_id
        if holder and holder != run_id and _lease_held(holder):
            return f"skipped: run {holder} is in progress"
        job.running_task_id = run_id
        job.last_started_at = timezone.now()
        job.save(update_fields=["running_task_id", "last_started_at"])
    error = result = ""
    try:
        result = str(import_string(spec["call"])())
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        with transaction.atomic():
            job = PeriodicTask.objects.select_for_update().get(name=name)
            if job.running_task_id == run_id:
                job.running_task_id = ""
            job.last_finished_at = timezone.now()
            job.last_error = error
            job.last_result = result
            job.save(
                update_fields=["running_task_id", "last_finished_at", "last_error", "last_result"]
            )
    return result


@task(takes_context=True)
def periodic_run_task(context: TaskContext, name: str) -> str:
    return periodic_run(name, run_id=str(context.task_result.id))
