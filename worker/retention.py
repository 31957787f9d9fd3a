"""Finished background work does not stay forever: task results are pruned after a window.

Every task leaves a row (``django_tasks_db``'s ``DBTaskResult``): each capture,
e-mail, webhook and periodic run, the payments check once a minute. A row
that finished (successful or failed) more than ``TASK_RESULT_RETENTION_DAYS``
ago has served its purpose (staff reading what ran, a failure's traceback)
and goes; a task that is ready or running is never touched, so a periodic
job's lease and the reaper's work are unaffected. Run daily with the shop's
other retention (``shop.retention``, the periodic job ``retention-daily``).
It is ``prune_db_task_results``'s rule (the library's command), in batches so
a first run over a large table holds no long transaction.
"""

from datetime import datetime

from django.db import transaction
from django_tasks_db.models import DBTaskResult

BATCH_SIZE = 5000


def worker_prune_finished_results(*, cutoff: datetime, dry_run: bool = False) -> int:
    """Delete task results that finished before ``cutoff``; returns how many (would) go."""
    finished = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff)
    if dry_run:
        return finished.count()
    deleted = 0
    while ids := list(finished.order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE]):
        with transaction.atomic():
            count, _ = DBTaskResult.objects.filter(pk__in=ids).delete()
        deleted += count
    return deleted
