"""The worker's own machinery: the reaper, the periodic schedule, health, a clean run."""

import json
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from payments.exceptions import PaymentError
from payments.operations.recovery import payment_watch_authorizations_task
from payments.providers.sandbox import provider
from worker.health import periodic_overdue
from worker.models import PeriodicTask, WorkerProcess
from worker.periodic import periodic_dispatch, periodic_run, periodic_run_task
from worker.recovery import tasks_reap, worker_register
from worker.runner import Worker

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_the_payments_check(settings):
    """These tests follow one job; the shop's other periodic jobs stay out of the way."""
    settings.TASK_PERIODIC = {
        "payments-check": {"call": "payments.operations.recovery.payment_watch_run", "every": 60}
    }


def _running(worker_id: str, started_ago: int) -> DBTaskResult:
    result = payment_watch_authorizations_task.enqueue()
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING,
        worker_ids=[worker_id],
        started_at=timezone.now() - timedelta(seconds=started_ago),
    )
    return DBTaskResult.objects.get(pk=result.id)


def test_the_reaper_queues_again_only_the_tasks_of_dead_workers(settings):
    settings.TASK_WORKER_DEAD_AFTER_SECONDS = 30
    worker_register("alive", threads=1)
    dead = worker_register("dead", threads=1)
    WorkerProcess.objects.filter(pk=dead.pk).update(
        last_seen_at=timezone.now() - timedelta(seconds=31)
    )
    of_dead = _running("dead", started_ago=120)
    of_unknown = _running("never-registered", started_ago=120)
    of_alive = _running("alive", started_ago=120)
    just_claimed = _running("dead", started_ago=5)

    reaped = tasks_reap()

    assert sorted(reaped) == sorted([str(of_dead.pk), str(of_unknown.pk)])
    statuses = dict(DBTaskResult.objects.values_list("pk", "status"))
    assert statuses[of_dead.pk] == statuses[of_unknown.pk] == TaskResultStatus.READY
    assert statuses[of_alive.pk] == statuses[just_claimed.pk] == TaskResultStatus.RUNNING
    assert DBTaskResult.objects.ready().filter(pk=of_dead.pk).exists()
    assert tasks_reap() == []


def test_a_stopped_worker_is_not_alive_and_its_leftovers_are_reaped(settings):
    worker_register("stopped", threads=1)
    WorkerProcess.objects.filter(worker_id="stopped").update(stopped_at=timezone.now())
    left = _running("stopped", started_ago=settings.TASK_WORKER_DEAD_AFTER_SECONDS + 1)
    assert tasks_reap() == [str(left.pk)]


def test_the_periodic_check_is_queued_once_per_interval_however_many_workers(settings):
    settings.PAYMENTS_CHECK_INTERVAL_SECONDS = 60
    settings.TASK_PERIODIC = {
        "payments-check": {"call": "payments.operations.recovery.payment_watch_run", "every": 60}
    }
    now = timezone.now()
    assert periodic_dispatch(now) == ["payments-check"]
    assert periodic_dispatch(now) == []  # a second worker at the same moment
    assert periodic_dispatch(now + timedelta(seconds=59)) == []
    assert periodic_dispatch(now + timedelta(seconds=60)) == ["payments-check"]
    queued = DBTaskResult.objects.filter(task_path=periodic_run_task.module_path)
    assert queued.count() == 2


def test_a_run_in_progress_holds_the_lease_and_a_dead_run_does_not():
    periodic_dispatch()
    first = _running("w1", started_ago=1)
    PeriodicTask.objects.filter(name="payments-check").update(running_task_id=str(first.pk))

    assert periodic_run("payments-check", run_id="another").startswith("skipped")
    assert PeriodicTask.objects.get().last_finished_at is None

    # Its worker died: the reaper put it back to READY, so the lease is free.
    DBTaskResult.objects.filter(pk=first.pk).update(status=TaskResultStatus.READY)
    assert "expired" in periodic_run("payments-check", run_id="another")
    job = PeriodicTask.objects.get()
    assert job.running_task_id == "" and job.last_finished_at is not None


def test_a_failing_run_records_its_error_and_releases_the_lease(settings):
    settings.TASK_PERIODIC = {"boom": {"call": "tests.worker.test_worker.boom", "every": 60}}
    periodic_dispatch()
    with pytest.raises(RuntimeError):
        periodic_run("boom", run_id="r1")
    job = PeriodicTask.objects.get(name="boom")
    assert job.running_task_id == "" and job.last_error == "RuntimeError: provider down"


def boom():
    raise RuntimeError("provider down")


def test_health_reports_each_part_and_fails_without_a_worker(client):
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("health", stdout=out)
    assert exited.value.code == 1
    assert "ok   database" in out.getvalue()
    assert "FAIL worker: no worker has ever run" in out.getvalue()
    assert "FAIL payments-check: never ran" in out.getvalue()

    response = client.get(reverse("health"))
    assert response.status_code == 200  # the web process can serve
    body = response.json()
    assert body["serving"] is True and body["ok"] is False
    assert body["checks"]["worker"]["ok"] is False


def test_health_is_ok_with_a_live_worker_and_a_recent_check(settings):
    worker_register("w1", threads=1)
    periodic_dispatch()
    periodic_run("payments-check", run_id="r1")
    out = StringIO()
    call_command("health", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] is True
    assert {check["name"] for check in report["checks"]} == {
        "database",
        "cache",
        "worker",
        "payments-check",
    }


def test_the_check_is_overdue_after_two_intervals(settings):
    settings.TASK_PERIODIC = {
        "payments-check": {"call": "payments.operations.recovery.payment_watch_run", "every": 60}
    }
    periodic_dispatch()
    periodic_run("payments-check", run_id="r1")
    finished = PeriodicTask.objects.get().last_finished_at
    assert periodic_overdue(finished + timedelta(seconds=119)) == []
    assert periodic_overdue(finished + timedelta(seconds=121)) == ["payments-check"]


def test_the_endpoint_answers_503_when_the_database_is_down(client):
    with mock.patch("worker.health.connection.cursor", side_effect=OSError("down")):
        response = client.get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "at": None}
    assert "down" not in response.content.decode()


def test_the_endpoint_refuses_post(client):
    assert client.post(reverse("health")).status_code == 405


def test_payments_watch_schedule_no_longer_queues_anything():
    out = StringIO()
    call_command("payments_watch", "--schedule", stdout=out)
    assert "every worker runs the payments check" in out.getvalue()
    assert not DBTaskResult.objects.exists()


def test_sandbox_latency_delays_each_provider_call(settings):
    settings.SANDBOX_LATENCY_MS = 300
    # An unknown charge is refused, after the same wait as any answer.
    with mock.patch.object(provider.time, "sleep") as sleep, pytest.raises(PaymentError):
        provider.SandboxProvider().retrieve_authorization("ch_missing")
    sleep.assert_called_once_with(0.3)


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_queued_tasks_in_threads_and_stops_when_done():
    results = [payment_watch_authorizations_task.enqueue() for _ in range(4)]
    # One thread: the in-memory SQLite test database locks whole tables between
    # threads; several threads are exercised on PostgreSQL (chaos tests, bench/).
    runner = Worker(worker_id="batch", threads=1, interval=0.05, batch=True)
    runner.run()
    statuses = set(
        DBTaskResult.objects.filter(pk__in=[r.id for r in results]).values_list("status", flat=True)
    )
    assert statuses == {TaskResultStatus.SUCCESSFUL}
    process = WorkerProcess.objects.get(worker_id="batch")
    assert process.stopped_at is not None and process.threads == 1
    # The worker also queued and ran the due periodic check.
    assert PeriodicTask.objects.get(name="payments-check").last_finished_at is not None


def test_one_claim_takes_up_to_the_free_threads_in_queue_order_and_marks_them_running(
    django_assert_num_queries,
):
    results = [payment_watch_authorizations_task.enqueue() for _ in range(5)]
    later = payment_watch_authorizations_task.using(
        run_after=timezone.now() + timedelta(hours=1)
    ).enqueue()
    runner = Worker(worker_id="w1", threads=3)
    # One round trip for several tasks: the locked select and one update (the
    # test's own transaction turns the claim's into a savepoint and its release).
    with django_assert_num_queries(4):
        first = runner.claim(3)
    assert [str(r.pk) for r in first] == [r.id for r in results[:3]]
    rows = DBTaskResult.objects.filter(pk__in=[r.pk for r in first])
    assert {(row.status, tuple(row.worker_ids)) for row in rows} == {
        (TaskResultStatus.RUNNING, ("w1",))
    }
    assert all(row.started_at is not None for row in rows)
    # The next claim gets what is left and ready, never a claimed or a future task.
    second = Worker(worker_id="w2", threads=8).claim(8)
    assert [str(r.pk) for r in second] == [r.id for r in results[3:]]
    assert later.id not in {str(r.pk) for r in first + second}
    assert Worker(worker_id="w3", threads=8).claim(8) == []


def test_staff_see_a_warning_in_the_admin_while_the_check_is_overdue(client, settings):
    cache.clear()
    staff = User.objects.create_user("watcher", password="x", is_staff=True, is_superuser=True)
    client.force_login(staff)
    warning = "(manage.py health)"  # in the message, in French as in English
    # No worker ever ran here (a fresh database): nothing to warn about yet.
    assert warning not in client.get(reverse("admin:index")).content.decode()

    periodic_dispatch()
    periodic_run("payments-check", run_id="r1")
    cache.clear()
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    assert warning not in page.content.decode()

    # The workers stopped: two intervals later, every admin page says so.
    PeriodicTask.objects.update(last_finished_at=timezone.now() - timedelta(seconds=121))
    settings.TASK_PERIODIC = {
        "payments-check": {"call": "payments.operations.recovery.payment_watch_run", "every": 60}
    }
    cache.clear()
    assert warning in client.get(reverse("admin:index")).content.decode()
    assert warning in client.get(reverse("admin:orders_order_changelist")).content.decode()
    cache.clear()
