"""Purge declined checkouts and blocked-attempt records now (the workers also do it daily)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shop.retention import retention_purge_declined

MAX_DAYS = 3650
MAX_BATCH = 10_000


def _whole_number(value: str, name: str, low: int, high: int) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise CommandError(f"{name} must be a whole number from {low} to {high}, not {value!r}.")
    return int(text)


class Command(BaseCommand):
    help = (
        "Delete declined checkouts that never held money (the order, its lines, payment, "
        "ledger entries, card session and e-mails) placed more than --days ago, expired card "
        "sessions, blocked payment attempt records last seen more than --days ago, and "
        "background task results finished more than TASK_RESULT_RETENTION_DAYS ago. "
        "Every worker already runs this once a day."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            default=None,
            help=(
                "Keep what is younger than this many days (default: "
                f"DECLINED_ORDER_RETENTION_DAYS, now {settings.DECLINED_ORDER_RETENTION_DAYS})."
            ),
        )
        parser.add_argument(
            "--batch-size",
            default="500",
            help="Orders per transaction (default 500).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be purged; change nothing."
        )

    def handle(self, *args, days: str | None, batch_size: str, dry_run: bool, **options) -> None:
        report = retention_purge_declined(
            days=None if days is None else _whole_number(days, "--days", 1, MAX_DAYS),
            batch_size=_whole_number(batch_size, "--batch-size", 1, MAX_BATCH),
            dry_run=dry_run,
        )
        verb = "Would purge" if dry_run else "Purged"
        self.stdout.write(
            f"{verb} what is older than {report.cutoff:%Y-%m-%d %H:%M} UTC (finished task "
            f"results: {report.task_cutoff:%Y-%m-%d %H:%M} UTC):"
        )
        for name, count in report.as_dict().items():
            self.stdout.write(f"  {name.replace('_', ' ')}: {count}")
