"""Server error pages that never touch the database.

When the database is unreachable, readers get a 503 with Retry-After instead of a
500; Django's connection health checks reconnect on the next request, so the site
recovers by itself when the database returns.
"""

import logging
import sys

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseServerError
from django.template import loader

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
