"""Run a task worker: tasks in threads, heartbeats, the reaper and the periodic jobs."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.crypto import get_random_string

from worker.runner import Worker


class Command(BaseCommand):
    help = (
        "Run background tasks (captures, e-mails, the payments check). Run one or more; "
        "a dead worker's tasks are taken back by the others."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="Tasks run at once in this process (default: TASK_WORKER_THREADS).",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="Seconds to wait when the queue is empty (default: 1).",
        )
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")
        parser.add_argument("--worker-id", default=None)

    def handle(self, *args, threads, interval, batch, worker_id, **options) -> None:
        threads = threads or settings.TASK_WORKER_THREADS
        if not 1 <= threads <= 64:
            raise CommandError("--threads must be between 1 and 64.")
        if not 0 < interval <= 60:
            raise CommandError("--interval must be between 0 and 60 seconds.")
        worker_id = worker_id or get_random_string(32)
        if len(worker_id) > 64:
            raise CommandError("--worker-id must be at most 64 characters.")
        runner = Worker(worker_id=worker_id, threads=threads, interval=interval, batch=batch)
        runner.configure_signals()
        runner.run()
