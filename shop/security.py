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
