"""Who is asking: the client's address as the outermost trusted proxy saw it.

Behind a reverse proxy ``REMOTE_ADDR`` is the proxy's own address, so every
shopper would share one login lockout. ``TRUSTED_PROXY_COUNT`` says how many
proxies of ours stand in front of the app; the address is then read that many
places from the right of ``X-Forwarded-For`` (what a client writes on the left
of that header is never believed).
"""

import re
from ipaddress import ip_address

from django.conf import settings
from django.http import HttpRequest, HttpResponseBadRequest
from django.middleware.csp import ContentSecurityPolicyMiddleware
from django.utils.csp import CSP
from django.utils.translation import gettext as _


def client_ip(request: HttpRequest) -> str:
    """The client's IP address, ``REMOTE_ADDR`` unless trusted proxies are configured."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < count:
        return remote
    candidate = forwarded[-count]
    try:
        return str(ip_address(candidate))
    except ValueError:
        return remote


class SecurityHeadersMiddleware:
    """What Django's own middleware does not set: ``Permissions-Policy``, no ``Server``.

    Placed where ``ContentSecurityPolicyMiddleware`` would be, it also sets the
    Content Security Policy: ``SECURE_CSP``, plus ``SECURE_CSP_STRIPE`` when the
    Stripe provider is in use (read on each response, so switching the provider
    in a test or a settings change needs no restart).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.csp = ContentSecurityPolicyMiddleware(get_response)

    def __call__(self, request: HttpRequest):
        self.csp.process_request(request)
        response = self.get_response(request)
        if settings.PAYMENTS_PROVIDER == "stripe" and not hasattr(response, "_csp_config"):
            response._csp_config = merge_policies(settings.SECURE_CSP, settings.SECURE_CSP_STRIPE)
        response = self.csp.process_response(request, response)
        policy = settings.PERMISSIONS_POLICY
        if settings.PAYMENTS_PROVIDER == "stripe":
            policy = settings.PERMISSIONS_POLICY_STRIPE
        response.headers.setdefault("Permissions-Policy", policy)
        if "Server" in response.headers:
            del response.headers["Server"]
        return response


def merge_policies(base: dict, extra: dict) -> dict:
    """``base`` with ``extra``'s sources added to each directive (``'none'`` dropped)."""
    merged = {directive: list(sources) for directive, sources in base.items()}
    for directive, sources in extra.items():
        kept = [s for s in merged.get(directive, []) if s != CSP.NONE]
        merged[directive] = kept + [s for s in sources if s not in kept]
    return merged


# The largest integer a database column (64-bit) holds: digit strings beyond it
# are not ids, quantities or amounts anywhere in the shop.
_MAX_DIGITS = len(str(2**63 - 1))
_DIGITS = re.compile(r"-?[0-9]+")


def _unreadable(value: str) -> bool:
    """A NUL character (PostgreSQL refuses it) or an integer no column can hold."""
    if "\x00" in value:
        return True
    stripped = value.strip()
    return (
        len(stripped) >= _MAX_DIGITS
        and _DIGITS.fullmatch(stripped) is not None
        and abs(int(stripped)) > 2**63 - 1
    )


class RejectUnreadableInputMiddleware:
    """400 for a request whose path, query or form carries what no field can hold.

    Views validate their own input too; this is the line behind them, so that a
    NUL byte or a 30-digit "id" never reaches a database query, whichever view
    (ours or the admin's) reads it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        values = [request.path, *request.GET.keys()]
        values += [v for _key, vs in request.GET.lists() for v in vs]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            values += [*request.POST.keys()]
            values += [v for _key, vs in request.POST.lists() for v in vs]
        segments = [part for value in values[:1] for part in value.split("/")]
        if any(_unreadable(value) for value in [*segments, *values[1:]]):
            return HttpResponseBadRequest(
                _("This request contains a value the shop cannot read: please check the address.")
            )
        return self.get_response(request)
