"""``make run``'s process (``manage.py runshop``) stops the web server and the worker cleanly."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.worker.chaos.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _children(pid: int) -> list[int]:
    """Every process whose parent is ``pid`` (from /proc), and their children."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found + [grandchild for child in found for grandchild in _children(child)]


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return False


def _serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_sigterm_to_the_group_of_make_run_stops_web_server_and_worker(tmp_path):
    database = tmp_path / "shop.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in ("EMAIL_URL", "CI")}
    env.update(DATABASE_URL=f"sqlite:///{database}", DEBUG="True", LOG_LEVEL="WARNING")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    shop = subprocess.Popen(
        [sys.executable, "manage.py", "runshop", "--port", str(port)],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert _wait(lambda: _serving(port), 90), "the web server never answered"

        def worker_registered() -> bool:
            with sqlite3.connect(database) as db:
                return db.execute("SELECT count(*) FROM worker_workerprocess").fetchone()[0] > 0

        assert _wait(worker_registered, 60), "the worker never started"
        processes = _children(shop.pid)
        assert len(processes) >= 3  # the worker, runserver and its autoreloader child

        os.killpg(shop.pid, signal.SIGTERM)  # what a process manager or Ctrl-C does
        output, _ = shop.communicate(timeout=60)
    finally:
        if shop.poll() is None:
            os.killpg(shop.pid, signal.SIGKILL)
    assert shop.returncode == 0, output
    assert "Stopped the worker and the web server." in output
    assert _wait(lambda: not any(_alive(pid) for pid in processes), 10), "children left behind"
    assert not _serving(port)
    with sqlite3.connect(database) as db:
        stopped = db.execute("SELECT stopped_at FROM worker_workerprocess").fetchone()[0]
    assert stopped is not None  # the worker finished cleanly, not killed
