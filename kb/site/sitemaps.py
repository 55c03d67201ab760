"""sitemap.xml: every public page a search engine should know about."""

from django.contrib import sitemaps
from django.urls import reverse

from kb.knowledge.featured import featured_comparisons
from kb.knowledge.models import Claim, Dimension, Source, Subject, Task
from kb.site import site_url


class Sitemap(sitemaps.Sitemap):
    """URLs on the configured site origin (KB_SITE_URL), never on the request's Host."""

    def get_protocol(self, protocol=None):
        return site_url.scheme()

    def get_domain(self, site=None):
        return site_url.netloc()


class SubjectSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.8

    def items(self):
        return Subject.objects.order_by("slug")

    def lastmod(self, item):
        return item.updated


class DimensionSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.6

    def items(self):
        return Dimension.objects.order_by("slug")


class ClaimSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.5

    def items(self):
        return Claim.objects.published().select_related("subject").order_by("subject__slug", "key")

    def lastmod(self, item):
        return item.updated


class SourceSitemap(Sitemap):
    changefreq = "monthly"
    priority = 0.4

    def items(self):
        return Source.objects.order_by("slug")

    def lastmod(self, item):
        return item.updated


class TaskSitemap(Sitemap):
    changefreq = "monthly"
    priority = 0.5

    def items(self):
        return Task.objects.order_by("slug")

    def lastmod(self, item):
        return item.updated


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
