"""The query parameters each public page understands: the only ones its cache key (and its view) sees.

A parameter not listed here for a page changes nothing on that page, so it must not
make a new cache entry: ``understood(request)`` keeps the listed parameters, drops
empty values and defaults, and sorts them by name (a parameter's own values keep
their order). The page cache hands the view exactly this, so a view that starts
reading a new parameter must list it here, or it will never see it.
"""

from django.http import QueryDict
from django.urls import Resolver404, resolve

from kb.comparison.filters import FILTER_PARAMS

# URL name -> parameter names. Pages not listed understand no parameter.
UNDERSTOOD = {
    "kb:compare": FILTER_PARAMS,
    "kb:compare-json": FILTER_PARAMS,
    "kb:compare-csv": FILTER_PARAMS,
    "kb:compare-pinned": FILTER_PARAMS,
    "kb:compare-changes": ("from", "to", *FILTER_PARAMS),
    "kb:feed-compare": FILTER_PARAMS,
    "kb:compare-bibtex": ("version",),
    "kb:compare-csl": ("version",),
    "kb:compare-form": ("subjects", *FILTER_PARAMS),
    "kb:search": ("q",),
    "kb:snippets": ("task", "subject"),
    "kb:sitemap": ("p",),
}
# Values that mean the same as leaving the parameter out (an empty value always does).
DEFAULTS = {"p": {"1"}}


def names_for(path):
    try:
        match = resolve(path)
    except Resolver404:
        return ()
    return UNDERSTOOD.get(match.view_name, ())


def understood(request):
    """The request's query, reduced to what its page understands, normalised: a new immutable QueryDict."""
    query = QueryDict(mutable=True)
    for name in sorted(names_for(request.path_info)):
        values = [value for value in request.GET.getlist(name) if value != "" and value not in DEFAULTS.get(name, ())]
        if values:
            query.setlist(name, values)
    query._mutable = False
    return query
