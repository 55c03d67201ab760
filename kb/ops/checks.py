"""System checks of the site's own settings (``manage.py check --deploy``)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def site_url_check(app_configs, **kwargs):
    """In production, KB_SITE_URL must be the public https origin: every absolute URL is built on it."""
    if settings.DEBUG or settings.INSECURE_HTTP:
        return []
    parts = urlsplit(settings.KB_SITE_URL)
    if parts.scheme == "https" and parts.hostname and parts.hostname not in ("127.0.0.1", "localhost"):
        return []
    return [
        Warning(
            f"KB_SITE_URL is {settings.KB_SITE_URL!r}: canonical links, feeds, the sitemap and exports would "
            "point there.",
            hint="Set KB_SITE_URL to the site's public origin, e.g. https://kb.example.org.",
            id="kb.W001",
        )
    ]


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@register(Tags.security, deploy=True)
def redis_password_check(app_configs, **kwargs):
    """A Redis reachable beyond this machine must ask for a password: whoever writes to it chooses pages."""
    warnings = []
    for alias, cache in settings.CACHES.items():
        if not cache["BACKEND"].endswith("RedisCache"):
            continue
        locations = cache["LOCATION"] if isinstance(cache["LOCATION"], list | tuple) else [cache["LOCATION"]]
        for location in locations:
            parts = urlsplit(location)
            if parts.scheme == "unix" or parts.password or parts.hostname in LOOPBACK_HOSTS:
                continue
            warnings.append(
                Warning(
                    f"The cache {alias!r} is a Redis at {parts.hostname} with no password in its URL.",
                    hint="Run Redis with requirepass (or an ACL user) and put it in REDIS_URL: "
                    "redis://:PASSWORD@host:6379/0 (see the README).",
                    id="kb.W003",
                )
            )
    return warnings
