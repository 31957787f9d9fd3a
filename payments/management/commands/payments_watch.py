"""Run the periodic payments check now, or make sure the worker runs it every 15 minutes."""

from django.core.management.base import BaseCommand, CommandParser
from django_tasks_db.models import DBTaskResult

from payments.operations.reconciliation import reconciliation_schedule_daily
from payments.operations.recovery import payment_watch_authorizations_task
from payments.services import payment_watch_authorizations
from payments.tasks import watch_authorizations


class Command(BaseCommand):
    help = (
        "Expire lapsed authorizations (and ask customers for new ones), warn staff of those "
        "lapsing soon, and re-enqueue money operations whose worker died."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="Do not run now: make sure the worker runs the check every 15 minutes.",
        )

    def handle(self, *args, schedule: bool, **options) -> None:
        if schedule:
            pending = DBTaskResult.objects.filter(
                task_path__in=[
                    payment_watch_authorizations_task.module_path,
                    watch_authorizations.module_path,  # queued before the rename
                ],
                status__in=["READY", "RUNNING"],
            )
            if pending.exists():
                self.stdout.write("The payments check is already scheduled.")
            else:
                payment_watch_authorizations_task.enqueue()
                self.stdout.write("The payments check is scheduled every 15 minutes.")
            if reconciliation_schedule_daily():
                self.stdout.write("The reconciliation with the provider is scheduled daily.")
            return
        report = payment_watch_authorizations()
        self.stdout.write(
            f"Expired: {len(report.expired)}; staff warned about: {len(report.warned)}; "
            f"operations re-enqueued: {len(report.requeued)}."
        )
