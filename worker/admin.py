"""Read-only views of the workers and the periodic jobs, for staff who monitor them."""

from django.contrib import admin

from worker.models import PeriodicTask, WorkerProcess


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WorkerProcess)
class WorkerProcessAdmin(ReadOnlyAdmin):
    list_display = ["hostname", "pid", "threads", "started_at", "last_seen_at", "stopped_at"]
    list_filter = ["stopped_at"]


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "last_started_at",
        "last_finished_at",
        "next_run_at",
        "last_result",
        "last_error",
    ]
