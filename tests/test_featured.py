"""Featured comparisons come from content (content/featured.yaml); broken ones are skipped and reported."""

import logging

import pytest
from django.core import checks
from django.core.management import call_command
from django.urls import reverse

from kb.knowledge.featured import featured_comparisons
from kb.knowledge.models import FeaturedComparison, Subject, SubjectAlias

pytestmark = pytest.mark.django_db


def test_no_featured_comparison_is_written_in_code():
    from kb.site.views import pages

    assert not hasattr(pages, "FEATURED_COMPARISONS")


def test_featured_comparisons_follow_the_content_in_order(sample_kb):
    gamma = Subject.objects.create(slug="gamma", name="Gamma", kind=Subject.objects.get(slug="alpha").kind)
    FeaturedComparison.objects.create(path="beta-vs-gamma-vs-alpha", note="Three.", order=0)
    featured = featured_comparisons()
    assert [item["url"] for item in featured] == ["/compare/beta-vs-gamma-vs-alpha/", "/compare/alpha-vs-beta/"]
    assert featured[0]["title"] == "Beta vs Gamma vs Alpha"  # no title in the content: the subjects' names
    assert featured[0]["note"] == "Three."
    assert featured[0]["subjects"][1] == gamma
    assert featured[1]["title"] == "Alpha vs Beta"


def test_unknown_slugs_are_skipped_logged_and_reported(client, sample_kb, caplog):
    FeaturedComparison.objects.create(path="alpha-vs-nosuch", title="Broken", order=0)
    with caplog.at_level(logging.WARNING, logger="kb.knowledge.featured"):
        response = client.get(reverse("kb:home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Broken" not in html and "nosuch" not in html
    assert "/compare/alpha-vs-beta/" in html
    assert "alpha-vs-nosuch" in caplog.text and "nosuch" in caplog.text
    warnings = checks.run_checks(tags=[checks.Tags.database], databases=["default"])
    assert [warning.id for warning in warnings if warning.id == "kb.W002"] == ["kb.W002"]
    assert "nosuch" in next(warning.msg for warning in warnings if warning.id == "kb.W002")
    assert "/compare/alpha-vs-nosuch/" not in client.get("/sitemap-comparisons.xml").content.decode()


def test_the_check_is_quiet_when_every_featured_comparison_resolves(sample_kb):
    warnings = checks.run_checks(tags=[checks.Tags.database], databases=["default"])
    assert not [warning for warning in warnings if warning.id == "kb.W002"]


def test_a_former_slug_is_followed(sample_kb):
    SubjectAlias.objects.create(slug="old-alpha", subject=Subject.objects.get(slug="alpha"))
    FeaturedComparison.objects.all().delete()
    FeaturedComparison.objects.create(path="old-alpha-vs-beta", order=0)
    assert [item["url"] for item in featured_comparisons()] == ["/compare/alpha-vs-beta/"]


def test_without_featured_content_the_most_common_kind_is_featured(sample_kb):
    FeaturedComparison.objects.all().delete()
    featured = featured_comparisons()
    assert len(featured) == 1 and len(featured[0]["subjects"]) >= 2


def test_the_real_content_features_comparisons_that_exist(db, real_content):
    from kb.knowledge.featured import resolve

    usable, problems = resolve(FeaturedComparison.objects.all())
    assert problems == []
    assert [item.path for item, _subjects in usable] == ["flask-vs-django"]


def test_featured_comparisons_round_trip_through_the_files(sample_kb, tmp_path, fixture_content_dir):
    call_command("export_content", str(tmp_path), verbosity=0)
    assert (tmp_path / "featured.yaml").read_text() == (fixture_content_dir / "featured.yaml").read_text()
