"""Whole public pages cached by URL, invalidated at once by any content change.

The cache key carries the content generation (kb.knowledge.models.ContentVersion), which every
change bumps in the database; a page cached under an older generation is never served
again, on any process or host, whatever cache backend is in use. Responses carry an
ETag and Last-Modified, and a conditional request is answered with a 304.

The key is one page: scheme, host (validated before this middleware runs, see
kb.site.site_url), path and only the query parameters the page understands, normalised
(kb.comparison.query_params); the view is handed that same reduced query, so junk parameters
neither make new entries nor change what is rendered.
"""

import hashlib
from contextlib import nullcontext

from django.conf import settings
from django.core.cache import caches
from django.db import router
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date

from kb.comparison.query_params import understood
from kb.knowledge.models import ContentVersion
from kb.ops.db_router import primary_reads, reads_at_generation
from kb.site.preview import PREVIEW_PARAM

CACHED_HEADERS = (
    "Content-Type", "Content-Language", "Access-Control-Allow-Origin", "Content-Disposition", "Vary",
    "Link", "Memento-Datetime",  # a pinned comparison's Memento headers (kb.site.views.versions)
)  # fmt: skip
PRIVATE_PREFIXES = ("/admin/",)


def is_cacheable_request(request):
    if request.method not in ("GET", "HEAD") or PREVIEW_PARAM in request.GET:
        return False
    if request.path.startswith(PRIVATE_PREFIXES) or request.path.startswith(settings.STATIC_URL):
        return False
    # Signed-in people (editors) may see things readers do not; never share their pages.
    return settings.SESSION_COOKIE_NAME not in request.COOKIES


def is_cacheable_response(response):
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and "private" not in response.get("Cache-Control", "")
        and "no-store" not in response.get("Cache-Control", "")
    )


def _key(generation, request):
    query = request.GET.urlencode()
    page = f"{request.scheme}://{request.get_host()}{request.path}" + (f"?{query}" if query else "")
    digest = hashlib.sha256(page.encode()).hexdigest()
    return f"kb:page:{generation}:{digest}"


def _validators(response, changed):
    if not response.has_header("ETag"):
        # SHA-256 (cut to 128 bits): stronger than MD5, and several times faster where the CPU has SHA instructions.
        response["ETag"] = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
    if changed is not None and not response.has_header("Last-Modified"):
        response["Last-Modified"] = http_date(changed.timestamp())
    if "max-age" not in response.get("Cache-Control", ""):  # a pinned comparison says it is immutable
        patch_cache_control(response, public=True, max_age=0, must_revalidate=True)


class PageCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.cache = caches[settings.KB_PAGE_CACHE]

    def __call__(self, request):
        if not settings.KB_PAGE_CACHE_SECONDS or not is_cacheable_request(request):
            return self.get_response(request)
        request.GET = understood(request)
        # The primary's generation: a replica that lags must not decide what is fresh.
        generation, changed = ContentVersion.objects.using(router.db_for_write(ContentVersion)).current()
        request.content_version = (generation, changed)  # what the page renders from (kb.comparison.columns)
        key = _key(generation, request)
        cached = self.cache.get(key)
        if cached is not None:
            status, headers, content = cached
            response = HttpResponse(content, status=status)
            for name, value in headers:
                response[name] = value
            response["X-Page-Cache"] = "hit"
        else:
            # A replica that has not replayed this generation would render older content: the primary renders.
            lagging = not reads_at_generation(generation)
            with primary_reads() if lagging else nullcontext():
                response = self.get_response(request)
            if not is_cacheable_response(response):
                return response
            _validators(response, changed)
            # What the replica rendered is cached only if it still had that generation afterwards.
            if lagging or reads_at_generation(generation):
                names = (*CACHED_HEADERS, "ETag", "Last-Modified", "Cache-Control")
                headers = [(name, response[name]) for name in names if response.has_header(name)]
                self.cache.set(key, (response.status_code, headers, response.content), settings.KB_PAGE_CACHE_SECONDS)
            response["X-Page-Cache"] = "miss"
        conditional = get_conditional_response(
            request,
            etag=response.get("ETag"),
            last_modified=int(changed.timestamp()) if changed else None,  # HTTP dates have whole seconds
            response=response,
        )
        return conditional or response
