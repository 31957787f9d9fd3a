"""A warning on the admin's pages when the periodic payments check is overdue."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext as _

from worker.health import periodic_overdue

CACHE_KEY = "worker:periodic-overdue"
CACHE_SECONDS = 30


class PeriodicOverdueWarningMiddleware:
    """Staff see a warning on every admin page while a periodic job a worker once
    scheduled has not finished a run for two intervals (one query per 30 s, cached)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # The admin's address per URL prefix and URLconf: reversed once, not per request.
        self.admin_paths: dict[tuple, str] = {}

    def _admin_path(self) -> str:
        key = (get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
        path = self.admin_paths.get(key)
        if path is None:
            path = self.admin_paths[key] = reverse("admin:index")
        return path

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method == "GET"
            and request.path.startswith(self._admin_path())
            and getattr(request, "user", None) is not None
            and request.user.is_active
            and request.user.is_staff
        ):
            overdue = cache.get(CACHE_KEY)
            if overdue is None:
                overdue = periodic_overdue(never_scheduled=False)
                cache.set(CACHE_KEY, overdue, CACHE_SECONDS)
            if overdue:
                messages.warning(
                    request,
                    _(
                        "The periodic payments check has not run for two intervals: captures "
                        "are not retried, expired holds and abandoned checkouts are not "
                        "released. Check that a worker runs (manage.py health)."
                    ),
                )
        return self.get_response(request)
