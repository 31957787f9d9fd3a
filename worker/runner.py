"""The task worker: claims tasks from the database and runs several at once in threads.

One process runs a claim loop in its main thread and ``threads`` tasks at a
time in a thread pool, so provider calls (network waits, with no lock held)
overlap. Beside the loop, a heartbeat thread keeps the process known alive;
every few seconds the loop also takes back the tasks of dead workers
(``worker.recovery``) and queues due periodic jobs (``worker.periodic``).

SIGTERM or SIGINT stops claiming, lets the tasks in hand finish, and exits;
a second one exits at once (the tasks cut off are taken back by the reaper).
"""

import logging
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from types import FrameType

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import close_old_connections, connection
from django.db.utils import OperationalError
from django.tasks import TaskContext
from django.tasks.signals import task_finished, task_started
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from worker.periodic import periodic_dispatch
from worker.recovery import tasks_reap, worker_heartbeat, worker_register, worker_stopped

logger = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        *,
        worker_id: str,
        threads: int,
        interval: float = 1.0,
        queue_names: tuple[str, ...] = ("default",),
        backend_name: str = "default",
        batch: bool = False,
    ) -> None:
        self.worker_id = worker_id
        self.threads = threads
        self.interval = interval
        self.queue_names = list(queue_names)
        self.backend_name = backend_name
        self.batch = batch
        self.stopping = threading.Event()
        self.tasks_run = 0
        self._count_lock = threading.Lock()

    # Signals -------------------------------------------------------------

    def configure_signals(self) -> None:
        for name in ("SIGINT", "SIGTERM", "SIGQUIT"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping.is_set():
            logger.warning("%s again: exiting now", signal.strsignal(signum))
            os._exit(1)
        logger.warning("%s: finishing the tasks in hand, then stopping", signal.strsignal(signum))
        self.stopping.set()

    # Loop ------------------------------------------------------------------

    def run(self) -> None:
        worker_register(self.worker_id, threads=self.threads)
        heartbeat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        heartbeat.start()
        logger.info("Worker %s started with %d threads", self.worker_id, self.threads)
        in_flight: set[Future] = set()
        maintenance_every = settings.TASK_WORKER_HEARTBEAT_SECONDS
        last_maintenance = -maintenance_every
        with ThreadPoolExecutor(self.threads, thread_name_prefix="task") as pool:
            while not self.stopping.is_set():
                close_old_connections()
                if time.monotonic() - last_maintenance >= maintenance_every:
                    self._maintenance()
                    last_maintenance = time.monotonic()
                in_flight = {future for future in in_flight if not future.done()}
                if len(in_flight) >= self.threads:
                    wait(in_flight, timeout=self.interval, return_when=FIRST_COMPLETED)
                    continue
                claimed = self._claim()
                if claimed is not None:
                    in_flight.add(pool.submit(self._run_task, claimed))
                    continue
                if self.batch and not in_flight:
                    break
                if in_flight:
                    wait(in_flight, timeout=self.interval, return_when=FIRST_COMPLETED)
                else:
                    self.stopping.wait(self.interval)
            logger.info("Worker %s: waiting for %d task(s) in hand", self.worker_id, len(in_flight))
        worker_stopped(self.worker_id)
        self.stopping.set()
        logger.info("Worker %s stopped after %d task(s)", self.worker_id, self.tasks_run)

    def _maintenance(self) -> None:
        for step in (tasks_reap, periodic_dispatch):
            try:
                step()
            except Exception:
                logger.exception("Worker maintenance step %s failed", step.__name__)

    def _heartbeat(self) -> None:
        while not self.stopping.wait(settings.TASK_WORKER_HEARTBEAT_SECONDS):
            try:
                worker_heartbeat(self.worker_id)
            except Exception:
                logger.exception("Heartbeat failed")
            finally:
                close_old_connections()
        connection.close()

    def _claim(self) -> DBTaskResult | None:
        tasks = DBTaskResult.objects.ready().filter(
            backend_name=self.backend_name, queue_name__in=self.queue_names
        )
        try:
            with exclusive_transaction(tasks.db):
                claimed = tasks.get_locked()
                if claimed is not None:
                    claimed.claim(self.worker_id)
        except OperationalError as error:
            if not is_locked_database_exception(error):
                # The database is away (restart, failover): wait and try again
                # rather than exit; the heartbeat stops meanwhile, as it should.
                logger.warning("Claiming a task failed: %s", error)
                close_old_connections()
                self.stopping.wait(self.interval)
            return None
        return claimed

    def _run_task(self, db_result: DBTaskResult) -> None:
        """Run one claimed task in a pool thread and record how it ended."""
        close_old_connections()
        try:
            task = db_result.task
            task_result = db_result.task_result
            backend_type = type(task.get_backend())
            task_started.send(sender=backend_type, task_result=task_result)
            if task.takes_context:
                value = task.call(
                    TaskContext(task_result=task_result), *task_result.args, **task_result.kwargs
                )
            else:
                value = task.call(*task_result.args, **task_result.kwargs)
            db_result.set_successful(value)
            task_finished.send(sender=backend_type, task_result=db_result.task_result)
        except BaseException as error:
            db_result.set_failed(error)
            try:
                sender = type(db_result.task.get_backend())
                task_finished.send(sender=sender, task_result=db_result.task_result)
            except (ImportError, SuspiciousOperation):
                logger.exception("Task %s failed unexpectedly", db_result.pk)
        finally:
            with self._count_lock:
                self.tasks_run += 1
            close_old_connections()
