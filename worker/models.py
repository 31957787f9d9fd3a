"""What the task workers say about themselves: heartbeats and the periodic schedule."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkerProcess(models.Model):
    """One running (or stopped, or dead) ``manage.py worker`` process.

    ``last_seen_at`` is written every few seconds by the process's heartbeat
    thread; a worker silent for ``TASK_WORKER_DEAD_AFTER_SECONDS`` is dead, and
    the tasks it was running go back to the queue (``worker.recovery``).
    """

    worker_id = models.CharField(_("worker id"), max_length=64, unique=True)
    hostname = models.CharField(_("host"), max_length=255)
    pid = models.PositiveIntegerField(_("process id"))
    threads = models.PositiveSmallIntegerField(_("threads"))
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last heartbeat"), db_index=True)
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = _("worker process")
        verbose_name_plural = _("worker processes")

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid} ({self.worker_id})"


class PeriodicTask(models.Model):
    """A task every worker makes sure runs every ``interval``, never twice at once.

    ``next_run_at`` is moved forward under a row lock by the worker that
    enqueues the run, so however many workers run, one run is queued per
    interval; ``running_task_id`` is the lease of the run in progress, held
    while that task is ``RUNNING`` (the reaper ends it when its worker dies).
    """

    name = models.CharField(_("name"), max_length=64, unique=True)
    next_run_at = models.DateTimeField(_("next run"))
    last_enqueued_at = models.DateTimeField(_("last queued"), null=True, blank=True)
    last_started_at = models.DateTimeField(_("last started"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last finished"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # What the last run that finished said it did ("purged: orders 12, ...").
    last_result = models.TextField(_("last result"), blank=True)
    running_task_id = models.CharField(_("run in progress"), max_length=64, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("periodic task")
        verbose_name_plural = _("periodic tasks")

    def __str__(self) -> str:
        return self.name
