"""Lists that grow with the knowledge base: pages of a long list, and the first few of each heading.

An index page (/subjects/, /dimensions/) shows ``PAGE_SIZE`` rows a page (``?page=N``; a page that
does not exist is a 404 that says so); the home page shows the first ``PREVIEW_SIZE`` of each
kind or group and links the rest: the page of the index where that heading starts.
"""

from dataclasses import dataclass

from django.core.paginator import InvalidPage, Paginator
from django.http import Http404
from django.urls import reverse

from kb.knowledge.models import Claim
from kb.site import site_url

PAGE_SIZE = 100
PREVIEW_SIZE = 12


def page_of(request, queryset):
    """The requested page of ``queryset`` (a Django Page), or a 404 naming the page asked for."""
    number = request.GET.get("page") or 1
    try:
        page = Paginator(queryset, PAGE_SIZE).page(number)
        page.object_list = list(page.object_list)
        return page
    except InvalidPage:
        raise Http404(f"This list has no page {number!r}.") from None


def with_claim_counts(page, field):
    """Set ``claim_count`` (published claims) on each row of ``page``, counted for this page only (one query)."""
    counts = Claim.objects.published().counts_by(field, page.object_list)
    for row in page.object_list:
        row.claim_count = counts.get(row.pk, 0)
    return page


def page_context(request, page):
    """``page``, and the canonical URL of a page after the first (each page of a list is its own page)."""
    context = {"page": page}
    if page.number > 1:
        context["canonical_url"] = site_url.absolute(f"{request.path}?page={page.number}")
    return context


@dataclass
class Section:
    heading: object  # a SubjectKind or a DimensionGroup
    items: list
    total: int
    url: str  # where all of them are listed

    @property
    def more(self):
        return self.total - len(self.items)


def sections(rows, attribute, list_view, anchor):
    """Rows of ``first_of_each`` (in index order) as [Section], each linked to its place in the index."""
    found, before = [], 0
    index = reverse(list_view)
    for row in rows:
        heading = getattr(row, attribute)
        if not found or found[-1].heading.pk != heading.pk:
            page = before // PAGE_SIZE + 1
            url = f"{index}{f'?page={page}' if page > 1 else ''}#{anchor}-{heading.slug}"
            found.append(Section(heading, [], row.partition_total, url))
            before += row.partition_total
        found[-1].items.append(row)
    return found
