"""``/health/``: for a load balancer (the status) and a monitor (the body)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from worker.health import health_report

# What this web process needs to serve requests; the workers and the payments
# check are reported too, but a load balancer must not take a web process out
# because a worker is down.
SERVING = ("database", "cache")


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when this process can serve (database and cache answer), else 503.

    The body lists every check with its state and time, never an error text.
    """
    report = health_report()
    serving = all(check.ok for check in report.checks if check.name in SERVING)
    body = {
        "serving": serving,
        "ok": report.ok,
        "checks": {check.name: {"ok": check.ok, "at": check.at} for check in report.checks},
    }
    return JsonResponse(body, status=200 if serving else 503)
