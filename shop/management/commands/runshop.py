"""Run the development shop: the task worker in the background, the web server in front."""

import os
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Start the task worker and the development web server together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default=os.environ.get("PORT") or "8000")

    def handle(self, *args, host: str, port: str, **options) -> None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise CommandError(f"PORT must be a number between 1 and 65535, not {port!r}.")
        worker = None
        # runserver's autoreloader runs this command again in a child process
        # (RUN_MAIN=true); only the outer process starts the worker.
        if os.environ.get("RUN_MAIN") != "true":
            worker = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--interval", "1"])
            self.stdout.write(f"Task worker started (pid {worker.pid}).")
        try:
            call_command("runserver", f"{host}:{port}")
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)
