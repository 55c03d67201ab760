"""Search page: ``/search/?q=...``, results grouped by kind (kb.site.search does the searching)."""

from urllib.parse import urlencode

from django.shortcuts import render
from django.utils.text import Truncator

from kb.site import search as kb_search
from kb.site import site_url

TITLE_QUERY_LENGTH = 60  # characters of the query a page title shows


def search(request):
    raw = request.GET.get("q", "")
    results = kb_search.search(raw)
    query = results.query
    if query:
        short = Truncator(query).chars(TITLE_QUERY_LENGTH)
        title = f"Search results for “{short}”"
        description = f"Subjects, dimensions, claims, quotes and code matching “{short}”."
    else:
        title = "Search"
        description = "Search subjects, dimensions, claims, quotes from sources and code snippets."
    return render(
        request,
        "kb/search.html",
        {
            "page_title": title,
            "page_description": description,
            "results": results,
            "search_query": query,
            "truncated": len(raw.strip()) > kb_search.MAX_QUERY_LENGTH,
            "max_length": kb_search.MAX_QUERY_LENGTH,
            "robots_noindex": bool(query),
            "canonical_url": site_url.absolute(f"{request.path}?{urlencode({'q': query})}" if query else request.path),
        },
    )
