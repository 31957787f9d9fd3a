"""Print the shop's health; exit 1 if anything is wrong (for cron, a monitor, a deploy)."""

import json

from django.core.management.base import BaseCommand, CommandParser

from worker.health import health_report


class Command(BaseCommand):
    help = (
        "Check the database, the cache, the workers' last heartbeat and the periodic "
        "payments check; exit status 1 when one of them is wrong."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, json: bool, **options) -> None:
        report = health_report()
        if json:
            self.stdout.write(_dumps(report.as_dict()))
        else:
            for check in report.checks:
                status = "ok  " if check.ok else "FAIL"
                self.stdout.write(f"{status} {check.name}: {check.detail}")
        if not report.ok:
            raise SystemExit(1)


def _dumps(data: dict) -> str:
    return json.dumps(data, indent=2)
