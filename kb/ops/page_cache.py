"""Whole public pages cached by URL, invalidated at once by any content change.

Only a reader's request (kb.ops.readers) for a page whose every form a visitor can ask for is
bounded by the content is cached: no query string (or only a canonical page number, ``p`` or
``page``), and no search or comparison, except a comparison of two subjects without filters. A
comparison names 2 to 8 subjects in any order with any filters, a search any words: caching them by
URL would let one visitor fill the cache, so they are built every time (a comparison from its cells,
kb.comparison). The plain pairs are the links people share most (``/compare/flask-vs-django/``)
and number at most n·(n-1) for n subjects. So what the cache can hold is a number of pages per
content version bounded by the content, whatever visitors ask.

The key carries the database's epoch and its content generation (kb.knowledge.models.ContentVersion),
which every change bumps in the database: a page cached under an older generation, or by another
database (a recreated one counts generations from 0 again), is never served, on any process or host.
Values go through kb.ops.shared_cache: bytes, tagged with the secret key, and any cache failure is a
miss. Responses carry an ETag and Last-Modified, and a conditional request is answered with a 304.
"""

import hashlib
import json
from contextlib import nullcontext
from functools import lru_cache

from django.conf import settings
from django.db import router
from django.http import HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date

from kb.knowledge.models import COMPARE_SEPARATOR, ContentVersion
from kb.ops.db_router import primary_reads, reads_at_generation
from kb.ops.readers import is_reader
from kb.ops.shared_cache import shared_cache

CACHED_HEADERS = (
    "Content-Type", "Content-Language", "Access-Control-Allow-Origin", "Content-Disposition", "Vary",
    "Link", "Memento-Datetime",  # a pinned comparison's Memento headers (kb.site.views.versions)
)  # fmt: skip
PAGE_PARAMS = ("p", "page")  # a page number of a paginated list (the sitemap's p) is part of a bounded set


@lru_cache(maxsize=1)
def unbounded_prefixes():
    """Paths whose URLs a visitor can vary without bound: comparisons (orders, filters, exports, feeds), search."""
    return (reverse("kb:compare-form"), reverse("kb:search"))


def is_pair(path):
    """Whether ``path`` is a comparison page of two subjects (``/compare/a-vs-b/``), nothing below it."""
    spec = path.removeprefix(reverse("kb:compare-form"))
    return spec.endswith("/") and "/" not in spec[:-1] and spec.count(COMPARE_SEPARATOR) == 1


def is_cacheable_request(request):
    """For a reader's request: whether its page is one of a number bounded by the content (see above)."""
    if request.path.startswith(unbounded_prefixes()) and (request.GET or not is_pair(request.path)):
        return False
    for name, values in request.GET.lists():
        if name not in PAGE_PARAMS or len(values) != 1 or not values[0].isdecimal() or values[0] != str(int(values[0])):
            return False
    return True


def is_cacheable_response(response):
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and "private" not in response.get("Cache-Control", "")
        and "no-store" not in response.get("Cache-Control", "")
    )


def primary_state():
    """``ContentVersion.objects.state()`` on the primary: a replica that lags must not decide what is fresh."""
    return ContentVersion.objects.using(router.db_for_write(ContentVersion)).state()


def _key(state, request):
    query = request.GET.urlencode()
    page = f"{request.scheme}://{request.get_host()}{request.path}" + (f"?{query}" if query else "")
    return f"kb:page:{state.key}:{hashlib.sha256(page.encode()).hexdigest()}"


def _validators(response, changed):
    if not response.has_header("ETag"):
        # SHA-256 (cut to 128 bits): stronger than MD5, and several times faster where the CPU has SHA instructions.
        response["ETag"] = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
    if changed is not None and not response.has_header("Last-Modified"):
        response["Last-Modified"] = http_date(changed.timestamp())
    if "max-age" not in response.get("Cache-Control", ""):  # a pinned comparison says it is immutable
        patch_cache_control(response, public=True, max_age=0, must_revalidate=True)


def _stored(response):
    names = (*CACHED_HEADERS, "ETag", "Last-Modified", "Cache-Control")
    headers = [(name, response[name]) for name in names if response.has_header(name)]
    return json.dumps(headers).encode() + b"\n" + response.content


def _restored(value):
    headers, _, content = value.partition(b"\n")
    response = HttpResponse(content, headers={"Content-Length": str(len(content))})
    for name, header in json.loads(headers):
        response[name] = header
    return response


class PageCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_reader(request):
            return self.get_response(request)
        if not settings.KB_PAGE_CACHE_SECONDS or not is_cacheable_request(request):
            # Built every time, and still answered with a 304 when the reader has these bytes.
            response = self.get_response(request)
            if is_cacheable_response(response):
                _validators(response, None)
            return get_conditional_response(request, etag=response.get("ETag"), response=response) or response
        # The primary's state: a replica that lags must not decide what is fresh.
        state = primary_state()
        key = _key(state, request)
        cached = shared_cache.get(key)
        if cached is not None:
            response = _restored(cached)
            response["X-Page-Cache"] = "hit"
        else:
            # A replica that has not replayed this generation would render older content: the primary renders.
            lagging = not reads_at_generation(state.generation)
            with primary_reads() if lagging else nullcontext():
                response = self.get_response(request)
            if not is_cacheable_response(response):
                return response
            _validators(response, state.changed)
            # What the replica rendered is cached only if it still had that generation afterwards.
            if lagging or reads_at_generation(state.generation):
                shared_cache.set(key, _stored(response), settings.KB_PAGE_CACHE_SECONDS)
            response["X-Page-Cache"] = "miss"
        conditional = get_conditional_response(
            request,
            etag=response.get("ETag"),
            last_modified=int(state.changed.timestamp()) if state.changed else None,  # HTTP dates: whole seconds
            response=response,
        )
        return conditional or response
