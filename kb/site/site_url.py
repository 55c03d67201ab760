"""The site's own origin (``KB_SITE_URL``), and the Host check made before anything else reads the request.

Absolute URLs (canonical links, Open Graph, the sitemap, feeds, JSON and CSV exports)
come from the configured origin, never from the request's Host header: a request
cannot choose the links a page carries, so no cached page can be poisoned with them.

A request's Host is checked, port included, before any cache lookup
(``HostValidationMiddleware``): the name against ``ALLOWED_HOSTS`` (Django's check),
the port against the ports this site is served on: none, 80 or 443, the port of
``KB_SITE_URL``, or one named with its host in ``DJANGO_ALLOWED_HOSTS`` ("example.org:8443").
"""

import logging
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponseBadRequest
from django.http.request import split_domain_port

# A bad Host is the client's mistake (or a scanner's), not ours: a warning, with the header cut short.
HOST_IN_LOG_CHARS = 200

logger = logging.getLogger("kb.hosts")


@cache
def origin():
    """``scheme://host[:port]`` of the public site, without a trailing slash."""
    return settings.KB_SITE_URL.rstrip("/")


def absolute(path):
    """The absolute URL of a site path ("/subjects/a/" -> "https://example.org/subjects/a/")."""
    if path.startswith(("http://", "https://")):
        return path
    return origin() + path


def scheme():
    return urlsplit(origin()).scheme


def netloc():
    return urlsplit(origin()).netloc


@cache
def _site_port():
    port = urlsplit(origin()).port
    return str(port) if port else ""


@receiver(setting_changed)
def _forget(setting, **kwargs):
    if setting == "KB_SITE_URL":
        origin.cache_clear()
        _site_port.cache_clear()


def validate_host(request):
    """The request's host ("name[:port]"), or DisallowedHost (a 400) when its name or its port is not ours."""
    host = request.get_host()  # Django checks the name against ALLOWED_HOSTS (and ignores the port)
    domain, port = split_domain_port(host)
    if port in ("", "80", "443", _site_port()) or f"{domain}:{port}" in settings.KB_ALLOWED_HOST_PORTS:
        return host
    raise DisallowedHost(f"Invalid HTTP_HOST header: {host!r}. Port {port} is not one this site is served on.")


class HostValidationMiddleware:
    """400 for a request without a Host header, or with a host or port the site does not serve.

    Placed first, above the page cache, so a cached page is refused to a bad Host exactly as
    an uncached one is, and nothing before it reads the Host. The refusal is logged as a warning
    naming the header cut to ``HOST_IN_LOG_CHARS`` (Django would log an error with all of it).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.KB_REQUIRE_HOST_HEADER and not request.META.get("HTTP_HOST"):
            return HttpResponseBadRequest("A Host header is required.", content_type="text/plain; charset=utf-8")
        try:
            validate_host(request)
        except DisallowedHost as error:
            return refuse_host(request, error)
        return self.get_response(request)


def refuse_host(request, error):
    host = request.META.get("HTTP_HOST", "")
    shown = host if len(host) <= HOST_IN_LOG_CHARS else host[:HOST_IN_LOG_CHARS] + "…"
    reason = "its port is not served here" if "Port " in str(error) else "not in ALLOWED_HOSTS"
    logger.warning(
        "bad Host header %r (%d characters): %s", shown, len(host), reason,
        extra={"path": request.path[:HOST_IN_LOG_CHARS], "status": 400},
    )  # fmt: skip
    response = HttpResponseBadRequest("Bad Host header.", content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response
