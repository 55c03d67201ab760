"""Whole pages cached by URL, invalidated at once by every kind of content change; 304s for revalidation."""

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from kb.knowledge import models as m

pytestmark = pytest.mark.django_db

PAGE = "/subjects/alpha/"


def get(client, url=PAGE, **headers):
    return client.get(url, headers=headers)


def test_second_request_is_a_cache_hit_with_the_same_page(client, sample_kb):
    first = get(client)
    second = get(client)
    assert first["X-Page-Cache"] == "miss"
    assert second["X-Page-Cache"] == "hit"
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert second["ETag"] == first["ETag"]


def test_cache_hit_runs_one_query(client, sample_kb, django_assert_num_queries):
    get(client)
    with django_assert_num_queries(1):  # the content generation
        assert get(client)["X-Page-Cache"] == "hit"


def test_etag_and_last_modified_give_304(client, sample_kb):
    response = get(client)
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"]
    assert "must-revalidate" in response["Cache-Control"]
    assert get(client, If_None_Match=response["ETag"]).status_code == 304
    assert get(client, If_Modified_Since=response["Last-Modified"]).status_code == 304
    assert get(client, If_None_Match='"something-else"').status_code == 200


def test_a_save_invalidates_every_cached_page(client, sample_kb):
    get(client, "/")
    old = get(client)
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    claim.cell = "A brand new cell text"
    claim.save()
    fresh = get(client)
    assert fresh["X-Page-Cache"] == "miss"
    assert "A brand new cell text" in fresh.content.decode()
    assert get(client, "/")["X-Page-Cache"] == "miss"  # every page, not only the one showing the claim
    assert fresh["ETag"] != old["ETag"]
    assert get(client, If_None_Match=old["ETag"]).status_code == 200


def test_admin_edit_invalidates(client, admin_client, sample_kb):
    get(client)
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    before = m.ContentVersion.objects.current()[0]
    url = reverse("admin:kb_claim_change", args=[claim.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(cell="Edited through the admin", _save="Save")
    for prefix, formset in (
        (fs.formset.prefix, fs.formset) for fs in admin_client.get(url).context["inline_admin_formsets"]
    ):
        management = formset.management_form
        for name in management.fields:
            data[f"{prefix}-{name}"] = management[name].value()
        for index, inline in enumerate(formset.forms):
            for name in inline.fields:
                value = inline[name].value()
                if value is not None:
                    data[f"{prefix}-{index}-{name}"] = value
    response = admin_client.post(url, data)
    assert response.status_code == 302, getattr(response, "context", None) and response.context["errors"]
    assert m.ContentVersion.objects.current()[0] > before
    assert "Edited through the admin" in get(client).content.decode()


def test_bulk_admin_action_invalidates(client, admin_client, sample_kb):
    draft = m.Claim.objects.get(subject__slug="alpha", key="fast-start")
    assert "Fast enough to start" not in get(client).content.decode()
    response = admin_client.post(
        reverse("admin:kb_claim_changelist"), {"action": "publish", "_selected_action": [draft.pk]}
    )
    assert response.status_code == 302
    assert m.Claim.objects.get(pk=draft.pk).status == m.Status.PUBLISHED
    assert "Fast enough to start" in get(client).content.decode()


def test_load_content_invalidates(client, sample_kb, fixture_content_dir, tmp_path):
    import shutil

    get(client)
    copy = tmp_path / "content"
    shutil.copytree(fixture_content_dir, copy)
    call_command("load_content", str(copy), verbosity=0)  # a copy the database was loaded from: then edited
    claims = copy / "claims" / "alpha.yaml"
    claims.write_text(claims.read_text().replace("Widget engine built in", "Reloaded from files"))
    call_command("load_content", str(copy), verbosity=0)
    assert "Reloaded from files" in get(client).content.decode()


def test_unchanged_load_keeps_the_cache(client, sample_kb, fixture_content_dir):
    # The first load verifies the excerpts against the sample's capture (a change readers see).
    call_command("load_content", str(fixture_content_dir), verbosity=0)
    get(client)
    call_command("load_content", str(fixture_content_dir), verbosity=0)
    assert get(client)["X-Page-Cache"] == "hit"


def test_editors_and_previews_are_never_cached(admin_client, client, sample_kb):
    assert "X-Page-Cache" not in admin_client.get(PAGE)
    assert "X-Page-Cache" not in admin_client.get(PAGE + "?preview=1")
    assert "X-Page-Cache" not in client.get(PAGE + "?preview=1")
    assert "X-Page-Cache" not in client.get(reverse("admin:login"))


def test_errors_are_not_cached(client, sample_kb):
    assert client.get("/subjects/nobody/").status_code == 404
    assert "X-Page-Cache" not in client.get("/subjects/nobody/")


def test_feeds_are_cached_with_their_content_type(client, sample_kb):
    get(client, "/feeds/claims/")
    hit = get(client, "/feeds/claims/")
    assert hit["X-Page-Cache"] == "hit"
    assert hit["Content-Type"].startswith("application/atom+xml")


@pytest.mark.parametrize(
    "url",
    [
        "/compare/alpha-vs-beta-vs-beta-widgets/",  # any order of 3 to 8 subjects: built from its cells every time
        "/compare/alpha-vs-beta.csv",
        "/compare/alpha-vs-beta/feed/",
        "/compare/alpha-vs-beta/?q=widget",
        "/search/?q=widget",  # any words
        "/subjects/alpha/?utm_source=x",  # a query the page does not understand: not a new entry
        "/sitemap.xml?p=01",  # only the canonical form of a page number
        "/sitemap.xml?p=1&p=2",
    ],
)
def test_pages_a_visitor_can_vary_without_bound_are_not_cached(client, sample_kb, url):
    assert client.get(url).status_code in (200, 404)
    assert "X-Page-Cache" not in client.get(url)


@pytest.mark.parametrize("url", ["/compare/alpha-vs-beta/", "/compare/beta-vs-alpha/"])
def test_a_comparison_of_two_subjects_without_filters_is_cached_until_a_change(client, sample_kb, url):
    """At most n·(n-1) such pages for n subjects: the links people share most are served from the cache."""
    first = get(client, url)
    assert first.status_code == 200 and first["X-Page-Cache"] == "miss"
    hit = get(client, url)
    assert hit["X-Page-Cache"] == "hit" and hit.content == first.content
    alpha = m.Subject.objects.get(slug="alpha")
    alpha.name = "Alpha renamed"
    alpha.save()  # as the admin saves it: a new content generation
    again = get(client, url)
    assert again["X-Page-Cache"] == "miss" and b"Alpha renamed" in again.content


def test_a_page_number_is_part_of_the_key(client, sample_kb):
    assert get(client, "/sitemap.xml")["X-Page-Cache"] == "miss"
    assert get(client, "/sitemap.xml")["X-Page-Cache"] == "hit"


@override_settings(KB_PAGE_CACHE_SECONDS=0)
def test_page_cache_can_be_turned_off(client, sample_kb):
    assert "X-Page-Cache" not in get(client)


def test_the_state_a_hit_reads_is_the_models(sample_kb):
    from kb.ops.page_cache import primary_state

    assert primary_state() == m.ContentVersion.objects.state()
    m.Subject.objects.get(slug="alpha").save()  # a change: a new generation and time
    assert primary_state() == m.ContentVersion.objects.state()
    assert primary_state().changed.tzinfo is not None


def test_a_cache_hit_has_a_content_length(client, sample_kb):
    get(client)
    hit = get(client)
    assert hit["X-Page-Cache"] == "hit"
    assert int(hit["Content-Length"]) == len(hit.content)
