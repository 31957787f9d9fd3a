"""The task worker: claims tasks from the database and runs several at once in threads.

One process runs a claim loop in its main thread and ``threads`` tasks at a
time in a thread pool, so provider calls (network waits, with no lock held)
overlap. Each round trip claims as many ready tasks as there are free
threads (``SELECT … FOR UPDATE SKIP LOCKED LIMIT n``, one ``UPDATE``), so
workers never wait on each other's claims; the loop sleeps only when the
queue is empty. Each pool thread keeps its database connection between
tasks and checks it only after an error or every ``HEARTBEAT`` seconds.
Beside the loop, a heartbeat thread keeps the process known alive; every few
seconds the loop also takes back the tasks of dead workers
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
from django.db.models import QuerySet
from django.db.utils import OperationalError
from django.tasks import TaskContext, TaskResultStatus
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
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
        # When each pool thread last checked its connection (close_old_connections).
        self._checked = threading.local()

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
                if time.monotonic() - last_maintenance >= maintenance_every:
                    close_old_connections()
                    self._maintenance()
                    last_maintenance = time.monotonic()
                in_flight = {future for future in in_flight if not future.done()}
                free = self.threads - len(in_flight)
                if free <= 0:
                    wait(in_flight, timeout=self.interval, return_when=FIRST_COMPLETED)
                    continue
                claimed = self.claim(free)
                for db_result in claimed:
                    in_flight.add(pool.submit(self.run_task, db_result))
                if len(claimed) == free:
                    continue  # the queue may hold more: claim again as soon as a thread is free
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

    def ready_tasks(self) -> QuerySet[DBTaskResult]:
        return DBTaskResult.objects.ready().filter(
            backend_name=self.backend_name, queue_name__in=self.queue_names
        )

    def claim(self, count: int, *, task_paths: list[str] | None = None) -> list[DBTaskResult]:
        """Claim up to ``count`` ready tasks in one transaction (two statements).

        Rows locked by another worker's claim are skipped, not waited for; on
        SQLite the transaction is exclusive (one claim at a time). The order
        is the queue's (priority, then ``run_after``, then enqueued first).
        """
        tasks = self.ready_tasks()
        if task_paths is not None:
            tasks = tasks.filter(task_path__in=task_paths)
        try:
            with exclusive_transaction(tasks.db):
                claimed = list(tasks.select_for_update(skip_locked=True)[:count])
                if claimed:
                    now = timezone.now()
                    for db_result in claimed:
                        db_result.status = TaskResultStatus.RUNNING
                        db_result.started_at = now
                        db_result.worker_ids = [*db_result.worker_ids, self.worker_id]
                    DBTaskResult.objects.bulk_update(
                        claimed, ["status", "started_at", "worker_ids"]
                    )
        except OperationalError as error:
            if not is_locked_database_exception(error):
                # The database is away (restart, failover): wait and try again
                # rather than exit; the heartbeat stops meanwhile, as it should.
                logger.warning("Claiming tasks failed: %s", error)
                close_old_connections()
                self.stopping.wait(self.interval)
            return []
        return claimed

    def run_task(self, db_result: DBTaskResult) -> None:
        """Run one claimed task in a pool thread and record how it ended."""
        failed = True
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
            failed = False
            task_finished.send(sender=backend_type, task_result=db_result.task_result)
        except BaseException as error:
            if failed:
                db_result.set_failed(error)
            try:
                sender = type(db_result.task.get_backend())
                task_finished.send(sender=sender, task_result=db_result.task_result)
            except (ImportError, SuspiciousOperation):
                logger.exception("Task %s failed unexpectedly", db_result.pk)
        finally:
            with self._count_lock:
                self.tasks_run += 1
            self._check_connection(after_error=failed)

    def _check_connection(self, *, after_error: bool) -> None:
        """Keep this thread's connection between tasks; drop it when broken or too old.

        ``close_old_connections`` costs a round trip on the next query (the
        health check), so it runs after a failed task or a database error, and
        otherwise every ``TASK_WORKER_HEARTBEAT_SECONDS`` (``CONN_MAX_AGE``).
        """
        now = time.monotonic()
        last = getattr(self._checked, "at", None)
        every = settings.TASK_WORKER_HEARTBEAT_SECONDS
        if after_error or connection.errors_occurred or last is None or now - last >= every:
            close_old_connections()
            self._checked.at = now
