"""URL map. Names are the contract: templates and models use reverse(), never hand-built paths."""

from django.contrib import admin
from django.urls import include, path, register_converter

from kb.ops.readers import ADMIN_PREFIX
from kb.site import converters, sitemaps, views
from kb.site.feeds import ComparisonFeed, RecentClaimsFeed, SubjectClaimsFeed
from kb.site.views import share, versions
from kb.site.views.pages import robots_txt

register_converter(converters.CompareSpecConverter, "compare")

app_patterns = [
    path("", views.home, name="home"),
    path("compare/", views.compare_form, name="compare-form"),
    path("compare/<compare:spec>/", views.comparison, name="compare"),
    path("compare/<compare:spec>/feed/", ComparisonFeed(), name="feed-compare"),
    path("compare/<compare:spec>/v/<str:version>/", versions.pinned, name="compare-pinned"),
    path("compare/<compare:spec>/changes/", versions.changes, name="compare-changes"),
    path("compare/<compare:spec>/timegate/", versions.timegate, name="compare-timegate"),
    path("compare/<compare:spec>/timemap/", versions.timemap, name="compare-timemap"),
    path("compare/<compare:spec>.json", views.comparison_json, name="compare-json"),
    path("compare/<compare:spec>.csv", views.comparison_csv, name="compare-csv"),
    path("compare/<compare:spec>/preview.png", share.comparison_preview, name="compare-preview"),
    path("compare/<compare:spec>/cite.bib", share.comparison_bibtex, name="compare-bibtex"),
    path("compare/<compare:spec>/cite.json", share.comparison_csl, name="compare-csl"),
    path("subjects/", views.subject_list, name="subject-list"),
    path("subjects/<slug:slug>/", views.subject_detail, name="subject"),
    path("dimensions/", views.dimension_list, name="dimension-list"),
    path("dimensions/<slug:slug>/", views.dimension_detail, name="dimension"),
    path("claims/<slug:subject>/<slug:key>/", views.claim_detail, name="claim"),
    path("sources/", views.source_list, name="source-list"),
    path("sources/<slug:slug>/", views.source_detail, name="source"),
    path("snippets/", views.snippet_index, name="snippets"),
    path("snippets/<slug:slug>/", views.task_detail, name="task"),
    path("search/", views.search, name="search"),
    path("feeds/claims/", RecentClaimsFeed(), name="feed-claims"),
    path("feeds/subjects/<slug:slug>/", SubjectClaimsFeed(), name="feed-subject"),
    path("sitemap.xml", sitemaps.index, name="sitemap"),
    path("sitemap-<slug:section>.xml", sitemaps.section, name="sitemap-section"),
    path("robots.txt", robots_txt, name="robots"),
    path("favicon.ico", share.favicon, name="favicon"),
]

urlpatterns = [
    path("", include((app_patterns, "kb"))),
    path(ADMIN_PREFIX.lstrip("/"), admin.site.urls),
]

handler500 = "kb.site.views.errors.server_error"
