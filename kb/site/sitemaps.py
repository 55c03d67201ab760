"""sitemap.xml: every public page a search engine should know about, as a sitemap index.

/sitemap.xml is Django's sitemap index (django.contrib.sitemaps.views.index): one entry per
section file, /sitemap-<section>.xml, and per further page of a section (``?p=2`` ...), each file
holding at most ``Sitemap.limit`` URLs (5,000, under the protocol's 50,000, so a file is quick to
build at 100,000 claims). Every URL is on the configured site origin (KB_SITE_URL), never on the
request's Host, the index's own links included.
"""

import copy

from django.contrib import sitemaps
from django.contrib.sitemaps import views as sitemap_views
from django.db.models import Max
from django.urls import reverse

from kb.knowledge.featured import featured_comparisons
from kb.knowledge.models import Claim, Dimension, Source, Subject, Task
from kb.site import site_url


class Sitemap(sitemaps.Sitemap):
    """URLs on the configured site origin (KB_SITE_URL), never on the request's Host."""

    limit = 5_000

    @property
    def protocol(self):  # what the index links its files with, and Django's get_protocol() returns
        return site_url.scheme()

    def get_domain(self, site=None):
        return site_url.netloc()


class ModelSitemap(Sitemap):
    """Records with an ``updated`` time: each URL's lastmod, and the section's latest in one query."""

    def lastmod(self, item):
        return item.updated

    def get_latest_lastmod(self):
        # Django's default reads every item for its lastmod: 100,000 claims for one date.
        return self.items().aggregate(latest=Max("updated"))["latest"]


class SubjectSitemap(ModelSitemap):
    changefreq = "weekly"
    priority = 0.8

    def items(self):
        return Subject.objects.order_by("slug")


class DimensionSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.6

    def items(self):
        return Dimension.objects.order_by("slug")


class ClaimSitemap(ModelSitemap):
    changefreq = "weekly"
    priority = 0.5

    def items(self):
        return Claim.objects.published().select_related("subject").order_by("subject__slug", "key")


class SourceSitemap(ModelSitemap):
    changefreq = "monthly"
    priority = 0.4

    def items(self):
        return Source.objects.order_by("slug")


class TaskSitemap(ModelSitemap):
    changefreq = "monthly"
    priority = 0.5

    def items(self):
        return Task.objects.order_by("slug")


class StaticPagesSitemap(Sitemap):
    changefreq = "daily"
    priority = 1.0

    def items(self):
        return ["kb:home", "kb:compare-form", "kb:subject-list", "kb:dimension-list", "kb:source-list", "kb:snippets"]

    def location(self, item):
        return reverse(item)


class FeaturedComparisonSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.9

    def items(self):
        return [comparison["url"] for comparison in featured_comparisons()]

    def location(self, item):
        return item


SITEMAPS = {
    "pages": StaticPagesSitemap,
    "comparisons": FeaturedComparisonSitemap,
    "subjects": SubjectSitemap,
    "dimensions": DimensionSitemap,
    "claims": ClaimSitemap,
    "sources": SourceSitemap,
    "snippets": TaskSitemap,
}


def index(request):
    """Django's sitemap index, linking the section files on the site origin (it would take the request's Host)."""
    on_site = copy.copy(request)
    on_site.get_host = site_url.netloc  # what Django's RequestSite names the files' host with
    return sitemap_views.index(on_site, SITEMAPS, sitemap_url_name="kb:sitemap-section")


def section(request, section):
    """One section's file (``?p=N`` for its further pages): Django's sitemap view."""
    return sitemap_views.sitemap(request, SITEMAPS, section=section)
