"""Issue 19: a claim's public history on its page: versions, diffs, evidence, reasons, editors unnamed,
each version linked to the comparison pinned at the generation that first showed it; fixed queries."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import include, path

from kb.knowledge import models as m
from kb.site import converters  # noqa: F401  (registers the "compare" converter used below)
from kb.urls import app_patterns


def pinned(request, spec, version):
    raise AssertionError("never requested here")


# The real site's URLs plus readmodel's pinned comparison (kb:compare-pinned), which lands with it.
urlpatterns = [
    path(
        "",
        include(
            ([*app_patterns, path("compare/<compare:spec>/v/<str:version>/", pinned, name="compare-pinned")], "kb")
        ),
    )
]

EDITOR = "alice-the-editor"


def history_of(client, url="/claims/alpha/slow-start/"):
    html = client.get(url).content.decode()
    start = html.index('id="history-heading"')
    return html[start : html.index("</section>", start)]


def edit(claim, user=None, reason=None, **fields):
    for name, value in fields.items():
        setattr(claim, name, value)
    if user is not None:
        claim._history_user = user
    if reason is not None:
        claim._change_reason = reason
    claim.save()


@pytest.fixture
def edited(sample_kb):
    """alpha/slow-start: loaded from files, then edited twice by an editor, the second time with a reason."""
    editor = get_user_model().objects.create_user(EDITOR, is_staff=True)
    claim = m.Claim.objects.get(subject__slug="alpha", key="slow-start")
    edit(claim, user=editor, body="Alpha takes a few seconds to start on a cold machine.")
    generation = m.ContentVersion.objects.state().generation
    edit(claim, user=editor, reason="The release notes give the figure", applies_to="Alpha 2.0")
    evidence = claim.evidence.first()
    evidence.stance = m.Stance.QUALIFIES
    evidence.save()
    return claim, generation


def test_versions_newest_first_with_diffs_reasons_and_no_account_names(client, edited):
    history = history_of(client)
    versions = re.findall(r'<li class="history-version" id="version-(\d+)"', history)
    assert versions == ["3", "2", "1"]
    assert "published by content files" in history  # the load
    # dated by the content files' own `changed`, not the time of the load
    assert '<time datetime="2026-11-21T10:30:00+00:00">21 November 2026, 10:30 UTC</time>: published' in history
    assert history.count("changed by an editor") == 2
    assert EDITOR not in history  # never an account name
    assert "Reason given: The release notes give the figure" in history
    assert '<ins><span class="visually-hidden">added: </span>' in history  # a word diff of the text
    assert "<dt>Applies to</dt>" in history and "→ Alpha 2.0" in history
    assert "Stance changed from" in history and "to qualifies" in history


def test_drafts_never_show_their_text(client, edited):
    claim, _generation = edited
    edit(claim, status=m.Status.DRAFT, body="A secret draft sentence.")
    edit(claim, body="Another secret draft sentence.")
    # Unpublished now: the page is a 404; publish again with a public text.
    edit(claim, status=m.Status.PUBLISHED, body="The public text again.")
    history = history_of(client)
    assert "secret" not in history
    assert "withdrawn by an editor" in history
    assert history.index("published by an editor") < history.index("withdrawn by an editor")  # newest first


@pytest.mark.urls(__name__)
def test_each_version_links_to_the_comparison_pinned_at_its_generation(client, edited):
    _claim, generation = edited
    epoch = m.ContentVersion.objects.state().epoch
    history = history_of(client)
    links = re.findall(r'href="(/compare/alpha-vs-beta/v/[^"]+/)"', history)
    assert len(links) == 3
    assert f"/compare/alpha-vs-beta/v/{epoch}-{generation}/" in links  # the first edit, as readers first saw it


def test_history_records_are_stamped_with_the_generation_of_their_change(edited):
    claim, generation = edited
    stamps = list(
        m.Claim.history.model.objects.filter(id=claim.pk)
        .order_by("history_date")
        .values_list("content_generation", flat=True)
    )
    assert None not in stamps
    assert stamps == sorted(stamps) and stamps[1] == generation
    assert stamps[-1] <= m.ContentVersion.objects.state().generation


def test_history_costs_the_same_queries_however_long(client, edited, django_assert_num_queries):
    claim, _generation = edited
    # the page (4) + its history (5: alpha is in a featured comparison, so its peers are not asked for)
    with django_assert_num_queries(9):
        client.get("/claims/alpha/slow-start/")
    for n in range(12):
        edit(claim, body=f"Edited again, number {n}.")
    with django_assert_num_queries(9):
        client.get("/claims/alpha/slow-start/")
    assert history_of(client).count('class="history-version"') == 15
