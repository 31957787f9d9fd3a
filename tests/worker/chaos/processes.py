"""Real processes for the chaos tests: workers on the test's database, a counting SMTP server."""

import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from email import message_from_bytes
from pathlib import Path
from urllib.parse import quote

from aiosmtpd.controller import Controller
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]


def test_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's ``test_<name>``)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{quote(db['NAME'], safe='')}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CountingSMTP:
    """An aiosmtpd server that keeps every message it accepted, counted by e-mail key."""

    def __init__(self) -> None:
        self.messages: list = []
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    def by_key(self) -> Counter:
        with self._lock:
            return Counter(m["X-Shop-Email-Key"] for m in self.messages)

    def message_ids(self, key: str) -> set[str]:
        with self._lock:
            return {m["Message-ID"] for m in self.messages if m["X-Shop-Email-Key"] == key}

    def __enter__(self) -> "CountingSMTP":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def worker_env(**settings: object) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env.update({name: str(value) for name, value in settings.items()})
    return env


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """``python <args>`` in the project, its output kept in a temporary file."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
