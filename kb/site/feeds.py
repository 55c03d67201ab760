"""Atom feeds of changes to published claims: overall, per subject and per comparison.

What a feed reader gets is safe and cannot fail:

- every field of type html (the entry's summary) is sanitised HTML: a claim's body as
  rendered at save (kb.knowledge.rendering), or its plain cell escaped, followed by the claim's
  quoted excerpts, each escaped, with its citation; the whole goes through the same
  allowlist sanitiser again;
- no field carries a control character (XML 1.0 cannot, and Django's feed writer
  raises on one): they are removed from every text the feed writes;
- links are absolute on the configured site origin (KB_SITE_URL), never the request's Host;
- each entry's published and updated times are the claim's own content dates
  (``Claim.added`` / ``Claim.changed``, from the content files), not the time of a load;
- an entry's id in the claims and subject feeds is the claim's permanent URL on the site
  origin (``ClaimsFeed.item_guid``), the same at every change of the claim.
"""

from dataclasses import dataclass

from django.contrib.syndication.views import Feed
from django.http import Http404, QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from kb.comparison import history
from kb.comparison.filters import FILTER_PARAMS, keep_rows
from kb.comparison.history import CellChange
from kb.comparison.table import (
    SubjectCatalogue,
    changes_url,
    compare_url,
    resolve_subjects,
    split_spec,
    with_query,
)
from kb.knowledge.models import Claim, ContentVersion, Subject
from kb.knowledge.rendering import sanitize, strip_control
from kb.site import site_url
from kb.site.context_processors import SITE_NAME
from kb.site.views.compare import _carried

FEED_SIZE = 30


def recent_claims():
    """Published claims with their evidence, the most recently changed first (by their content dates)."""
    return Claim.objects.published().with_evidence().recent()


def entry_html(claim):
    """The summary of one entry (templates/jinja2/feeds/entry.html: the site's one citation markup), sanitised."""
    html = render_to_string("feeds/entry.html", {"claim": claim, "base": site_url.origin()})
    return sanitize(strip_control(html.strip()))


class ClaimsFeed(Feed):
    """What the three feeds share: entries are claims, every text field cleaned, every link absolute."""

    feed_type = Atom1Feed
    author_name = SITE_NAME

    def item_title(self, item):
        return strip_control(f"{item.subject.name} · {item.dimension.name}: {item.cell}")

    def item_description(self, item):
        return entry_html(item)

    def item_link(self, item):
        return site_url.absolute(item.get_absolute_url())

    def item_guid(self, item):
        """A stable URL: the claim's absolute page address (an entry is one claim)."""
        return site_url.absolute(item.get_absolute_url())

    item_guid_is_permalink = True

    def item_pubdate(self, item):
        return item.added or item.changed

    def item_updateddate(self, item):
        return item.changed or item.added

    def item_categories(self, item):
        return [strip_control(item.subject.name), strip_control(item.dimension.name)]


class RecentClaimsFeed(ClaimsFeed):
    title = f"{SITE_NAME}: recently changed claims"
    subtitle = "Published claims, newest change first, each with the sources it quotes."

    def link(self):
        return site_url.absolute(reverse("kb:home"))

    def feed_url(self):
        return site_url.absolute(reverse("kb:feed-claims"))

    def items(self):
        return recent_claims()[:FEED_SIZE]


class SubjectClaimsFeed(ClaimsFeed):
    def get_object(self, request, slug):
        try:
            return Subject.objects.get(slug=slug)
        except Subject.DoesNotExist:
            raise Http404(f"There is no subject called “{slug}”.") from None

    def title(self, obj):
        return strip_control(f"{SITE_NAME}: recently changed claims about {obj.name}")

    def subtitle(self, obj):
        return strip_control(
            f"Published claims about {obj.name}, newest change first, each with the sources it quotes."
        )

    def link(self, obj):
        return site_url.absolute(obj.get_absolute_url())

    def feed_url(self, obj):
        return site_url.absolute(reverse("kb:feed-subject", args=[obj.slug]))

    def items(self, obj):
        return recent_claims().filter(subject=obj)[:FEED_SIZE]


@dataclass
class ComparisonView:
    """A comparison and the filters of the view its feed follows (the page's GET parameters)."""

    subjects: list
    query: QueryDict
    epoch: str


@dataclass
class CellEntry:
    view: ComparisonView
    change: CellChange
    old: int
    new: int
    at: object


class ComparisonFeed(Feed):
    """Changes to the cells of one comparison (``/compare/<a>-vs-<b>/feed/``), one entry per changed cell.

    A filtered view has its own feed (the same GET parameters): entries only for the cells of rows that
    view shows. Entries are the read model's changes (kb.comparison.history), newest version first.
    """

    feed_type = Atom1Feed
    author_name = SITE_NAME

    def get_object(self, request, spec):
        resolution = resolve_subjects(split_spec(spec), SubjectCatalogue.load())
        if resolution.unknown or resolution.too_many or resolution.too_few:
            raise Http404("There is no such comparison.")
        query = _carried(request, FILTER_PARAMS)
        return ComparisonView(resolution.subjects, query, ContentVersion.objects.state().epoch)

    def _names(self, view):
        return strip_control(" vs ".join(subject.name for subject in view.subjects))

    def _slugs(self, view):
        return [subject.slug for subject in view.subjects]

    def title(self, view):
        filtered = " (filtered)" if view.query else ""
        return f"{SITE_NAME}: changes to {self._names(view)}{filtered}"

    def subtitle(self, view):
        return f"Changed cells of the comparison {self._names(view)}, newest first, old beside new on the site."

    def link(self, view):
        return site_url.absolute(with_query(compare_url(self._slugs(view)), view.query.urlencode()))

    def feed_url(self, view):
        return site_url.absolute(with_query(compare_url(self._slugs(view), "kb:feed-compare"), view.query.urlencode()))

    def items(self, view):
        versions = history.versions_of([subject.pk for subject in view.subjects])[-FEED_SIZE - 1 :]
        if not versions:
            return []
        past, keep, shown = history.History(view.subjects), keep_rows(view.query), {}
        entries = []
        pairs = list(zip([(0, None), *versions[:-1]], versions, strict=True))
        for (old, _old_at), (new, at) in reversed(pairs):
            for change in history.changes_in_view(past, old, new, keep, shown):
                entries.append(CellEntry(view, change, old, new, at))
            if len(entries) >= FEED_SIZE:
                break
        return entries[:FEED_SIZE]

    def item_title(self, item):
        cell = item.change.cell
        return strip_control(f"{cell.subject.name} · {cell.dimension.name}: {'; '.join(item.change.what)}")

    def item_description(self, item):
        html = render_to_string("feeds/cell_change.html", {"change": item.change, "base": site_url.origin()})
        return sanitize(strip_control(html.strip()))

    def item_link(self, item):
        view = item.view
        old, new = history.version_name(view.epoch, item.old), history.version_name(view.epoch, item.new)
        url = changes_url(self._slugs(view), old, new, view.query.urlencode() if view.query else "")
        return site_url.absolute(f"{url}#change-{item.change.dom_id}")

    def item_guid(self, item):
        return f"cell:{item.view.epoch}-{item.new}:{item.change.dom_id}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item.at

    def item_updateddate(self, item):
        return item.at
