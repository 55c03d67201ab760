"""Atom feeds of recently changed published claims, overall and per subject."""

from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from .context_processors import SITE_NAME
from .models import Claim, Subject

FEED_SIZE = 30


def recent_claims():
    return Claim.objects.published().select_related("subject", "dimension").order_by("-updated", "-pk")


class RecentClaimsFeed(Feed):
    feed_type = Atom1Feed
    title = f"{SITE_NAME}: recently changed claims"
    subtitle = "Published claims, newest change first, each with the sources it quotes."
    author_name = SITE_NAME

    def link(self):
        return reverse("kb:home")

    def feed_url(self):
        return reverse("kb:feed-claims")

    def items(self):
        return recent_claims()[:FEED_SIZE]

    def item_title(self, item):
        return f"{item.subject.name} · {item.dimension.name}: {item.cell}"

    def item_description(self, item):
        # body_html is sanitised at save time; the syndication framework escapes it into the feed.
        return item.body_html or item.cell

    def item_link(self, item):
        return item.get_absolute_url()

    def item_guid(self, item):
        return f"claim:{item.subject.slug}/{item.key}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item.created

    def item_updateddate(self, item):
        return item.updated

    def item_categories(self, item):
        return [item.subject.name, item.dimension.name]


class SubjectClaimsFeed(RecentClaimsFeed):
    def get_object(self, request, slug):
        return get_object_or_404(Subject, slug=slug)

    def title(self, obj):
        return f"{SITE_NAME}: recently changed claims about {obj.name}"

    def subtitle(self, obj):
        return f"Published claims about {obj.name}, newest change first."

    def link(self, obj):
        return obj.get_absolute_url()

    def feed_url(self, obj):
        return reverse("kb:feed-subject", args=[obj.slug])

    def items(self, obj):
        return recent_claims().filter(subject=obj)[:FEED_SIZE]
