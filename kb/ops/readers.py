"""Whether a request is a public reader's, decided once, early in the middleware stack.

A reader's request is a GET or HEAD outside the admin, from a browser with no session (no
editor signed in or signing in), that has written nothing lately (no primary-pin cookie of
kb.ops.db_router) and asks for no draft preview. ``ReaderMiddleware`` sets
``request.is_reader``; the page cache (kb.ops.page_cache), the database router
(kb.ops.db_router) and compression (kb.ops.compression) read it through ``is_reader()``,
which says False for a request the middleware never saw (a view called directly).
"""

from django.conf import settings

from kb.site.preview import PREVIEW_PARAM

ADMIN_PREFIX = "/admin/"
READER_METHODS = ("GET", "HEAD")
# Set after every write (kb.ops.db_router): that browser reads the primary for a while.
PIN_COOKIE = "kb_primary"


def is_admin_path(path):
    return path.startswith(ADMIN_PREFIX)


def decide(request):
    return (
        request.method in READER_METHODS
        and not is_admin_path(request.path)
        and not request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        and not request.COOKIES.get(PIN_COOKIE)
        and PREVIEW_PARAM not in request.GET
    )


def is_reader(request):
    return getattr(request, "is_reader", False)


class ReaderMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.is_reader = decide(request)
        return self.get_response(request)
