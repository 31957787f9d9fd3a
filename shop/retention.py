"""Retention: what declined checkouts leave behind goes after ``DECLINED_ORDER_RETENTION_DAYS``,
finished background task results after ``TASK_RESULT_RETENTION_DAYS`` (``worker.retention``).

The card-testing limits (``shop.checkout.limits``) bound how fast declined
attempts come; this bounds how long their rows stay, so the tables do not
grow without bound. One entry point, ``retention_purge_declined``, run daily
by the workers (periodic job ``retention-daily``) and by hand with
``manage.py purge_declined``. It spans the apps the checkout spans, which is
why it lives here: each app deletes its own rows
(``payments.operations.retention`` decides which declined orders may go and
removes their payments, ledger entries, card sessions and e-mails, then
``orders.retention`` the orders and their lines), and the storefront its
blocked-attempt records.

Rows are deleted, not anonymised: a declined checkout holds a name, an
address and an e-mail (often someone else's, with card testing) and moved
no money, so nothing is owed to keep it once its use (support, spotting an
attack) is over. What a run removed is its result: shown on the periodic
task in the admin and written to the log.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from payments.services import (
    PurgeCounts,
    payment_card_sessions_purge_expired,
    payment_purge_declined_orders,
)
from shop.checkout.limits import limits_purge_blocked
from worker.retention import worker_prune_finished_results

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionReport:
    """What a purge removed (or, dry run, would remove), table by table."""

    cutoff: datetime
    declined: PurgeCounts
    expired_card_sessions: int
    blocked_attempts: int
    # Background task results finished before ``task_cutoff`` (``worker.retention``).
    finished_tasks: int
    task_cutoff: datetime
    dry_run: bool

    def as_dict(self) -> dict[str, int]:
        return {
            **asdict(self.declined),
            "expired_card_sessions": self.expired_card_sessions,
            "blocked_attempts": self.blocked_attempts,
            "finished_tasks": self.finished_tasks,
        }

    def __str__(self) -> str:
        counts = ", ".join(f"{name} {count}" for name, count in self.as_dict().items())
        verb = "would purge" if self.dry_run else "purged"
        return (
            f"before {self.cutoff:%Y-%m-%d %H:%M} UTC (finished tasks before "
            f"{self.task_cutoff:%Y-%m-%d %H:%M} UTC), {verb}: {counts}"
        )


def retention_purge_declined(
    *,
    days: int | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    now: datetime | None = None,
) -> RetentionReport:
    """Purge declined checkouts and blocked-attempt records older than ``days``.

    ``days`` defaults to ``DECLINED_ORDER_RETENTION_DAYS``; finished task
    results go after ``TASK_RESULT_RETENTION_DAYS``. ``dry_run`` counts and
    changes nothing. Idempotent, in batches (``batch_size`` orders per
    transaction), safe beside running checkouts (see
    ``payments.operations.retention``).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=days or settings.DECLINED_ORDER_RETENTION_DAYS)
    task_cutoff = now - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS)
    batch = {"batch_size": batch_size} if batch_size else {}
    report = RetentionReport(
        cutoff=cutoff,
        declined=payment_purge_declined_orders(cutoff=cutoff, dry_run=dry_run, **batch),
        expired_card_sessions=payment_card_sessions_purge_expired(now=now, dry_run=dry_run),
        blocked_attempts=limits_purge_blocked(cutoff=cutoff, dry_run=dry_run),
        finished_tasks=worker_prune_finished_results(cutoff=task_cutoff, dry_run=dry_run),
        task_cutoff=task_cutoff,
        dry_run=dry_run,
    )
    logger.info("Retention: %s", report)
    return report


def retention_purge_run() -> str:
    """The periodic job ``retention-daily`` (``worker.periodic``): its result, for staff."""
    return str(retention_purge_declined())
