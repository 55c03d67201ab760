"""Public responses compressed (brotli or gzip) when the client accepts it, never ones that carry secrets.

BREACH recovers a secret from a compressed response that also reflects what an attacker
sends (a search query, say) by watching the compressed length. So a response is compressed
only when it carries no secret at all:

- nothing for a request that is not a reader's (kb.ops.readers: the admin, a session cookie of an
  editor signed in or about to be, a draft preview, a browser that just wrote) nor for a signed-in
  user;
- no response that sets a cookie, or whose page had a CSRF token rendered into it;
- nothing marked ``Cache-Control: private`` or ``no-store`` (staff previews are both).

Public pages hold only public content, so reflecting the query beside it reveals nothing.

Compression sits above the whole-page cache (kb.ops.page_cache), which keeps the plain body and
its strong ETag; the compressed body is not kept (brotli at quality 4 takes about 2 ms for a
400 KB page, a second copy of every page in the cache is not worth it). The compressed response's
ETag is the weak form of the plain one (RFC 9110 8.8.1), which still matches a conditional
request, and every compressible response says ``Vary: Accept-Encoding``.
"""

import gzip

import brotli
from django.utils.cache import patch_vary_headers

from kb.ops.readers import is_reader

MIN_LENGTH = 200  # not worth compressing below this many bytes
COMPRESSIBLE_TYPES = (
    "text/html",
    "text/plain",
    "text/csv",
    "text/xml",
    "application/json",
    "application/xml",
    "application/atom+xml",
    "application/rss+xml",
    "application/vnd.citationstyles.csl+json",
    "application/x-bibtex",
    "image/svg+xml",
)
# Preferred first when the client accepts several equally.
ENCODERS = {
    # Quality 4: a 400 KB comparison in about 2 ms, within a tenth of the size quality 5 takes 60% longer to reach.
    "br": lambda content: brotli.compress(content, quality=4),
    "gzip": lambda content: gzip.compress(content, compresslevel=6, mtime=0),
}


def accepted_encoding(header):
    """The best encoding ``Accept-Encoding`` allows (highest q, then br over gzip), or None."""
    weights = {}
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name:
            weights[name] = quality
    best = None
    for encoding in ENCODERS:
        quality = weights.get(encoding, weights.get("*", 0.0))
        if quality > 0 and (best is None or quality > best[1]):
            best = (encoding, quality)
    return best[0] if best else None


def carries_secrets(request, response):
    """True for any response that may hold a secret (see the module docstring)."""
    if not is_reader(request) or response.cookies:
        return True
    # get_token() leaves this key whenever a CSRF token went into the page.
    if "CSRF_COOKIE_NEEDS_UPDATE" in request.META or request.META.get("CSRF_COOKIE_USED"):
        return True
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return True
    cache_control = response.get("Cache-Control", "")
    return "private" in cache_control or "no-store" in cache_control


def is_compressible(response):
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return (
        not response.streaming
        and not response.has_header("Content-Encoding")
        and content_type in COMPRESSIBLE_TYPES
        and len(response.content) >= MIN_LENGTH
    )


class CompressionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not is_compressible(response) or carries_secrets(request, response):
            return response
        patch_vary_headers(response, ("Accept-Encoding",))
        encoding = accepted_encoding(request.META.get("HTTP_ACCEPT_ENCODING"))
        if encoding is None:
            return response
        compressed = ENCODERS[encoding](response.content)
        if len(compressed) >= len(response.content):
            return response
        response.content = compressed
        response["Content-Length"] = str(len(compressed))
        response["Content-Encoding"] = encoding
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            response["ETag"] = "W/" + etag
        return response
