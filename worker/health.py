"""Is the shop healthy? The database, the cache, the workers' heartbeat and the periodic jobs.

Used by ``manage.py health``, the ``/health/`` endpoint (for a load balancer or
a monitor) and the admin's warning.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils import timezone
from django.utils.crypto import get_random_string

from worker.models import PeriodicTask, WorkerProcess
from worker.periodic import periodic_interval
from worker.recovery import dead_after


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    at: str | None = None


@dataclass
class HealthReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return Check("database", False, f"unreachable: {type(error).__name__}")
    return Check("database", True, connection.vendor)


def _cache() -> Check:
    key = f"health-{get_random_string(12)}"
    cache = caches["default"]
    try:
        cache.set(key, "1", 10)
        answered = cache.get(key) == "1"
        cache.delete(key)
    except Exception as error:
        return Check("cache", False, f"unreachable: {type(error).__name__}")
    backend = type(cache).__name__
    return Check("cache", answered, backend if answered else f"{backend} did not keep a value")


def _workers(now: datetime) -> Check:
    last = WorkerProcess.objects.order_by("-last_seen_at").first()
    if last is None:
        return Check("worker", False, "no worker has ever run")
    alive = WorkerProcess.objects.filter(
        stopped_at__isnull=True, last_seen_at__gte=now - dead_after()
    ).count()
    age = int((now - last.last_seen_at).total_seconds())
    detail = f"{alive} alive; last heartbeat {age} s ago"
    return Check("worker", alive > 0, detail, _iso(last.last_seen_at))


def periodic_overdue(now: datetime | None = None, *, never_scheduled: bool = True) -> list[str]:
    """The periodic jobs that have not finished a run for two intervals.

    A job no worker has ever scheduled counts unless ``never_scheduled`` is
    false (the admin's warning: a fresh database has no worker history yet).
    """
    now = now or timezone.now()
    jobs = {job.name: job for job in PeriodicTask.objects.filter(name__in=settings.TASK_PERIODIC)}
    overdue = []
    for name in settings.TASK_PERIODIC:
        job = jobs.get(name)
        if job is None:
            if never_scheduled:
                overdue.append(name)
            continue
        since = job.last_finished_at or job.last_enqueued_at
        if since is None or now - since > 2 * periodic_interval(name):
            overdue.append(name)
    return overdue


def _periodic(now: datetime) -> list[Check]:
    overdue = set(periodic_overdue(now))
    jobs = {job.name: job for job in PeriodicTask.objects.filter(name__in=settings.TASK_PERIODIC)}
    checks = []
    for name in settings.TASK_PERIODIC:
        job = jobs.get(name)
        last = job.last_finished_at if job else None
        if last is None:
            detail = "never ran"
        else:
            detail = f"last finished {int((now - last).total_seconds())} s ago"
            if job.last_error:
                detail += f" with an error: {job.last_error[:200]}"
        checks.append(Check(name, name not in overdue, detail, _iso(last)))
    return checks


def health_report(now: datetime | None = None) -> HealthReport:
    now = now or timezone.now()
    report = HealthReport(checks=[_database(), _cache()])
    if report.checks[0].ok:
        report.checks.append(_workers(now))
        report.checks.extend(_periodic(now))
    return report
