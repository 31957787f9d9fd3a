"""Run the periodic payments check now (the workers also run it on their own schedule)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from payments.services import payment_watch_authorizations


class Command(BaseCommand):
    help = (
        "Expire lapsed authorizations (and ask customers for new ones), warn staff of those "
        "lapsing soon, release abandoned checkouts and re-enqueue money operations whose "
        "worker died. Every worker already runs this check on a schedule."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="Kept for old scripts: the workers schedule the check themselves.",
        )

    def handle(self, *args, schedule: bool, **options) -> None:
        if schedule:
            seconds = settings.PAYMENTS_CHECK_INTERVAL_SECONDS
            self.stdout.write(
                f"Nothing to do: every worker runs the payments check every {seconds} s."
            )
            return
        report = payment_watch_authorizations()
        self.stdout.write(
            f"Expired: {len(report.expired)}; staff warned about: {len(report.warned)}; "
            f"operations re-enqueued: {len(report.requeued)}."
        )
