"""Run the development shop: the task worker and the web server, stopped together.

Both run as child processes, each in its own process group. SIGTERM or
SIGINT (Ctrl-C) to this command, or to its whole group, stops the worker
cleanly (it finishes the task in hand) and the web server with its
autoreloader child; if either child exits, the other is stopped too.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from django.core.management.base import BaseCommand, CommandError, CommandParser

STOP_TIMEOUT = 20


class Command(BaseCommand):
    help = "Start the task worker and the development web server together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default=os.environ.get("PORT") or "8000")
        parser.add_argument(
            "--noreload", action="store_true", help="Do not restart the server on code changes."
        )

    def handle(self, *args, host: str, port: str, noreload: bool, **options) -> None:
        if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            raise CommandError(f"PORT must be a number between 1 and 65535, not {port!r}.")
        manage = [sys.executable, "manage.py"]
        server_args = [*manage, "runserver", f"{host}:{port}"]
        if noreload:
            server_args.append("--noreload")
        stop_requested = []

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop_requested.append(signum)

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        children = {
            # Fixed arguments: this interpreter, manage.py, a validated host:port.
            "worker": subprocess.Popen([*manage, "worker"], start_new_session=True),  # noqa: S603
            "web server": subprocess.Popen(server_args, start_new_session=True),  # noqa: S603
        }
        self.stdout.write(
            "Started: " + ", ".join(f"{name} (pid {c.pid})" for name, c in children.items())
        )
        try:
            while not stop_requested and all(c.poll() is None for c in children.values()):
                time.sleep(0.2)
        finally:
            for child in children.values():
                _stop(child)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        exited = [name for name, c in children.items() if c.returncode not in (0, -15)]
        if not stop_requested and exited:
            raise CommandError(f"Stopped because the {' and the '.join(exited)} exited.")
        self.stdout.write("Stopped the worker and the web server.")


def _stop(child: subprocess.Popen) -> None:
    """SIGTERM to the child's whole group, then SIGKILL if it has not exited in time."""
    if child.poll() is None:
        _signal_group(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(child.pid, signal.SIGKILL)
            child.wait()
    # The autoreloader's own child shares the group: make sure nothing is left.
    _signal_group(child.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
