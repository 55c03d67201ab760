"""Open every named URL of the site with the real content: 200, and exactly one <h1> on HTML pages."""

import pytest
from django.urls import reverse

from kb.knowledge.models import Claim, ContentVersion, Dimension, Source, Subject, Task
from kb.urls import app_patterns
from tests.test_pages import check_page

pytestmark = pytest.mark.django_db


def compare_pair():
    slugs = set(Subject.objects.filter(slug__in=["flask", "django"]).values_list("slug", flat=True))
    if slugs == {"flask", "django"}:
        return ["flask", "django"]
    subject = Subject.objects.order_by("kind__order", "name").first()
    other = Subject.objects.filter(kind=subject.kind).exclude(pk=subject.pk).order_by("name").first()
    return [subject.slug, other.slug]


def args_for(name):
    """Arguments for each named URL, taken from real objects."""
    claim = Claim.objects.published().select_related("subject").order_by("subject__slug", "key").first()
    subject = Subject.objects.order_by("slug").first()
    return {
        "home": [],
        "compare-form": [],
        "compare": [compare_pair()],
        "compare-json": [compare_pair()],
        "compare-csv": [compare_pair()],
        "compare-preview": [compare_pair()],
        "compare-bibtex": [compare_pair()],
        "compare-csl": [compare_pair()],
        "compare-pinned": [compare_pair(), ContentVersion.objects.state().key],
        "compare-changes": [compare_pair()],
        "compare-timegate": [compare_pair()],
        "compare-timemap": [compare_pair()],
        "favicon": [],
        "subject-list": [],
        "subject": [subject.slug],
        "dimension-list": [],
        "dimension": [Dimension.objects.order_by("slug").first().slug],
        "claim": [claim.subject.slug, claim.key],
        "source-list": [],
        "source": [Source.objects.order_by("slug").first().slug],
        "snippets": [],
        "task": [Task.objects.order_by("slug").first().slug],
        "search": [],
        "feed-claims": [],
        "feed-subject": [subject.slug],
        "feed-compare": [compare_pair()],
        "sitemap": [],
        "sitemap-section": ["subjects"],
        "robots": [],
    }[name]


NAMES = [pattern.name for pattern in app_patterns if pattern.name]


def test_every_named_url_is_covered():
    expected = {
        "home", "compare-form", "compare", "compare-json", "compare-csv", "subject-list", "subject",
        "dimension-list", "dimension", "claim", "source-list", "source", "snippets", "task", "search",
        "feed-claims", "feed-subject", "sitemap", "robots",
    }  # fmt: skip
    assert expected <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_named_url_opens(client, real_content, name):
    url = reverse(f"kb:{name}", args=args_for(name))
    # The TimeGate redirects to a pinned version; a pinned URL to the version in force then.
    response = client.get(url, follow=name in ("compare-timegate", "compare-pinned"))
    assert response.status_code == 200, url
    if response["Content-Type"].startswith("text/html"):
        check_page(response)


def all_detail_urls():
    yield from (reverse("kb:subject", args=[s]) for s in Subject.objects.values_list("slug", flat=True))
    yield from (reverse("kb:dimension", args=[s]) for s in Dimension.objects.values_list("slug", flat=True))
    yield from (reverse("kb:source", args=[s]) for s in Source.objects.values_list("slug", flat=True))
    yield from (reverse("kb:task", args=[s]) for s in Task.objects.values_list("slug", flat=True))
    yield from (c.get_absolute_url() for c in Claim.objects.published().select_related("subject"))


def test_every_detail_page_of_the_real_content_opens(client, real_content):
    for url in all_detail_urls():
        response = client.get(url)
        assert response.status_code == 200, url
        check_page(response)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("subject", ["no-such-subject"]),
        ("dimension", ["no-such-dimension"]),
        ("claim", ["no-such-subject", "no-such-claim"]),
        ("claim", ["flask", "no-such-claim"]),
        ("source", ["no-such-source"]),
        ("task", ["no-such-task"]),
        ("feed-subject", ["no-such-subject"]),
        ("compare", [["no-such-subject", "flask"]]),
        ("compare-json", [["no-such-subject", "flask"]]),
        ("compare-csv", [["no-such-subject", "flask"]]),
        ("compare-preview", [["no-such-subject", "flask"]]),
        ("compare-bibtex", [["no-such-subject", "flask"]]),
        ("compare-csl", [["no-such-subject", "flask"]]),
    ],
)
def test_unknown_slugs_are_404(client, real_content, name, args):
    assert client.get(reverse(f"kb:{name}", args=args)).status_code == 404


@pytest.fixture
def real_draft(real_content):
    """A claim of the real content turned back into a draft (the real content has none; rolled back after)."""
    claim = Claim.objects.published().select_related("subject").order_by("pk").first()
    claim.status = "draft"
    claim.save()
    return claim


def test_draft_claims_of_the_real_content_are_404_for_readers(client, real_draft):
    drafts = list(Claim.objects.exclude(status="published").select_related("subject")[:20])
    assert real_draft in drafts
    for claim in drafts:
        assert client.get(claim.get_absolute_url()).status_code == 404
    published = Claim.objects.published().select_related("subject").first()
    assert client.get(published.get_absolute_url()).status_code == 200
