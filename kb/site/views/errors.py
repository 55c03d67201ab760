"""Error pages: the site's own 404, also under DJANGO_DEBUG=1, and server errors that never touch the database.

When the database is unreachable, readers get a 503 with Retry-After instead of a
500; Django's connection health checks reconnect on the next request, so the site
recovers by itself when the database returns.

With debug on, Django answers a 404 with its technical page (the URL patterns, the
exception) instead of ``404.html``. ``SiteNotFoundMiddleware`` gives readers of
``make run`` the same page production shows, for an unknown address and for unknown
content alike; ``DJANGO_DEBUG_TECHNICAL_404=1`` brings Django's page back.
"""

import logging
import sys

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, HttpResponseServerError
from django.template import loader
from django.urls import Resolver404, get_resolver
from django.views import defaults

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30


def database_unavailable(exception):
    """Errors that mean "the database is not there right now", not a bug in a query."""
    if isinstance(exception, InterfaceError | OperationalError):
        return True
    return isinstance(exception, DatabaseError) and "connection" in str(exception).lower()


def server_error(request, template_name="500.html"):
    exception = sys.exc_info()[1]
    if exception is not None and database_unavailable(exception):
        logger.warning("Database unavailable: %s", exception)
        body = loader.get_template("503.html").render({"retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(body, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
    return HttpResponseServerError(loader.get_template(template_name).render())


class SiteNotFoundMiddleware:
    """Under debug, a 404 (an unknown address, or a view's Http404) renders the site's ``404.html``.

    Production never needs it (Django renders ``404.html`` itself); it is a no-op unless
    ``DEBUG`` is on and ``KB_DEBUG_TECHNICAL_404`` is off.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def active(self):
        return settings.DEBUG and not settings.KB_DEBUG_TECHNICAL_404

    def __call__(self, request):
        if self.active():
            try:
                get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
            except Resolver404 as exception:
                return defaults.page_not_found(request, exception)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if self.active() and isinstance(exception, Http404):
            return defaults.page_not_found(request, exception)
        return None
