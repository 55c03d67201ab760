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
  origin (``ClaimEntryIds``), the same at every change of the claim.
"""

from django.contrib.syndication.views import Feed
from django.db.models import F
from django.db.models.functions import Coalesce
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from kb.comparison.table import SubjectCatalogue, compare_url, resolve_subjects, split_spec
from kb.knowledge.models import Claim, Subject
from kb.knowledge.rendering import sanitize, strip_control
from kb.site import site_url
from kb.site.context_processors import SITE_NAME

FEED_SIZE = 30


def recent_claims():
    """Published claims with their evidence, the most recently changed first (by their content dates)."""
    return (
        Claim.objects.published()
        .with_evidence()
        .annotate(last_changed=Coalesce("changed", "added"))
        .order_by(F("last_changed").desc(), "-pk")
    )


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
        return f"claim:{item.subject.slug}/{item.key}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item.added or item.changed

    def item_updateddate(self, item):
        return item.changed or item.added

    def item_categories(self, item):
        return [strip_control(item.subject.name), strip_control(item.dimension.name)]


class ClaimEntryIds:
    """Entry ids that are stable URLs: the claim's absolute page address (an entry is one claim)."""

    def item_guid(self, item):
        return site_url.absolute(item.get_absolute_url())

    item_guid_is_permalink = True


class RecentClaimsFeed(ClaimEntryIds, ClaimsFeed):
    title = f"{SITE_NAME}: recently changed claims"
    subtitle = "Published claims, newest change first, each with the sources it quotes."

    def link(self):
        return site_url.absolute(reverse("kb:home"))

    def feed_url(self):
        return site_url.absolute(reverse("kb:feed-claims"))

    def items(self):
        return recent_claims()[:FEED_SIZE]


class SubjectClaimsFeed(ClaimEntryIds, ClaimsFeed):
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


class ComparisonFeed(ClaimsFeed):
    """Changes to the cells of one comparison (``/compare/<a>-vs-<b>/feed/``): its subjects' published claims."""

    def get_object(self, request, spec):
        resolution = resolve_subjects(split_spec(spec), SubjectCatalogue.load())
        if resolution.unknown or resolution.too_many or resolution.too_few:
            raise Http404("There is no such comparison.")
        return resolution.subjects

    def _names(self, subjects):
        return strip_control(" vs ".join(subject.name for subject in subjects))

    def title(self, subjects):
        return f"{SITE_NAME}: changes to {self._names(subjects)}"

    def subtitle(self, subjects):
        return (
            f"Changed cells of the comparison {self._names(subjects)}, newest first, each with the sources it quotes."
        )

    def link(self, subjects):
        return site_url.absolute(compare_url([subject.slug for subject in subjects]))

    def feed_url(self, subjects):
        return site_url.absolute(compare_url([subject.slug for subject in subjects], "kb:feed-compare"))

    def items(self, subjects):
        return recent_claims().filter(subject__in=[subject.pk for subject in subjects])[:FEED_SIZE]
