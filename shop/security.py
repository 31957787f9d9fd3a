"""Who is asking: the client's address as the outermost trusted proxy saw it.

Behind a reverse proxy ``REMOTE_ADDR`` is the proxy's own address, so every
shopper would share one login lockout. ``TRUSTED_PROXY_COUNT`` says how many
proxies of ours stand in front of the app; the address is then read that many
places from the right of ``X-Forwarded-For`` (what a client writes on the left
of that header is never believed).
"""

from ipaddress import ip_address

from django.conf import settings
from django.http import HttpRequest
from django.middleware.csp import ContentSecurityPolicyMiddleware
from django.utils.csp import CSP


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
