"""Outdated claims are kept and shown apart, but only current claims drive a cell (issue 13), and
"differences" mean different support levels (issue 12)."""

import csv
import io

import pytest
from django.db import IntegrityError, transaction
from django.forms import modelform_factory
from django.urls import reverse

from kb.comparison.cell import is_contested
from kb.comparison.filters import ComparisonFilter
from kb.comparison.table import build_table
from kb.editing.admin_forms import ClaimForm
from kb.knowledge import models as m
from kb.knowledge.signals import content_changed

pytestmark = pytest.mark.django_db


def subjects(*slugs):
    return [m.Subject.objects.get(slug=slug) for slug in slugs]


def outdated_claim(subject="alpha", dimension="widgets", support=m.Support.NOT_PROVIDED, **extra):
    """A published, outdated claim with a quote, in ``subject``'s cell on ``dimension``."""
    claim = m.Claim.objects.create(
        subject=m.Subject.objects.get(slug=subject),
        dimension=m.Dimension.objects.get(slug=dimension),
        key="old-widgets",
        cell="No widgets at all",
        support=support,
        status=m.Status.PUBLISHED,
        outdated=True,
        outdated_since="Alpha 2.0",
        superseded_by=m.Claim.objects.get(subject__slug=subject, key="widgets"),
        **extra,
    )
    excerpt = m.Excerpt.objects.get(source__slug="sample", key="alpha-fast")
    m.Evidence.objects.create(claim=claim, excerpt=excerpt, stance=m.Stance.CONTRADICTS)
    return claim


def row(table, slug):
    return next(r for r in table.rows if r.dimension.slug == slug)


def test_outdated_claims_never_drive_badge_contested_or_support(sample_kb):
    outdated_claim()
    widgets = row(build_table(subjects("alpha", "beta"), with_data=True), "widgets")
    alpha = widgets.cells[0]
    assert [claim.key for claim in alpha.current_claims] == ["widgets"]  # what the badge shows
    assert [claim.key for claim in alpha.outdated_claims] == ["old-widgets"]  # kept, set apart
    old = alpha.outdated_claims[0]
    assert old.outdated_since == "Alpha 2.0" and old.successor_ref == "alpha/widgets"
    assert old.successor_url == reverse("kb:claim", args=["alpha", "widgets"])
    assert old.successor_cell == m.Claim.objects.get(subject__slug="alpha", key="widgets").cell
    # A second support level and a contradicting quote, both on the outdated claim only: not contested.
    assert not alpha.contested and not widgets.contested
    assert m.Support.NOT_PROVIDED not in widgets.supports
    assert alpha.source_count == 1


def test_the_support_filter_ignores_outdated_claims(sample_kb):
    outdated_claim()
    table = build_table(subjects("alpha", "beta"), with_data=True)
    filters = ComparisonFilter({"support": m.Support.NOT_PROVIDED}, table=table)
    assert filters.filter_rows(table.rows) == []
    filters = ComparisonFilter({"support": m.Support.BUILT_IN}, table=table)
    assert [r.dimension.slug for r in filters.filter_rows(table.rows)] == ["widgets"]


def test_the_same_claim_current_would_be_contested(sample_kb):
    """The control for the tests above: the same claim, not outdated, does drive the cell."""
    claim = outdated_claim()
    m.Claim.objects.filter(pk=claim.pk).update(outdated=False, outdated_since="", superseded_by=None)
    content_changed(claims=[claim.pk])  # as every bulk writer does after writing around the signals
    alpha = row(build_table(subjects("alpha", "beta"), with_data=True), "widgets").cells[0]
    assert alpha.contested and {c.key for c in alpha.current_claims} == {"widgets", "old-widgets"}


def test_one_definition_of_contested_serves_the_table_and_the_dimension_page(client, sample_kb):
    outdated_claim()
    claims = list(m.Claim.objects.filter(subject__slug="alpha", dimension__slug="widgets").prefetch_related("evidence"))
    assert not is_contested(claims, evidence_of=lambda claim: claim.evidence.all())
    html = client.get(reverse("kb:dimension", args=["widgets"])).content.decode()
    assert "cmp-cell--contested" not in html and "Contested</span>" not in html
    old = m.Claim.objects.get(key="old-widgets")
    old.outdated, old.outdated_since, old.superseded_by = False, "", None
    old.save()  # through the model, as the admin does: cached pages go
    html = client.get(reverse("kb:dimension", args=["widgets"])).content.decode()
    assert '<td id="widgets--alpha" class="cmp-cell--contested">' in html and "Contested</span>" in html


def test_exports_keep_outdated_claims_with_their_status(client, sample_kb):
    outdated_claim(applies_to="Alpha < 2.0")
    spec = {"spec": ["alpha", "beta"]}
    data = client.get(reverse("kb:compare-json", kwargs=spec)).json()
    widgets = next(r for r in data["rows"] if r["dimension"]["slug"] == "widgets")
    alpha = widgets["cells"][0]
    assert alpha["contested"] is False
    old = next(c for c in alpha["claims"] if c["key"] == "old-widgets")
    assert old["outdated"] is True and old["outdated_since"] == "Alpha 2.0"
    assert old["superseded_by"] == "alpha/widgets" and old["applies_to"] == "Alpha < 2.0"
    current = next(c for c in alpha["claims"] if c["key"] == "widgets")
    assert current["outdated"] is False and current["superseded_by"] is None
    excerpt = data["excerpts"]["sample/alpha-widgets"]
    assert excerpt["verification"] in {"verified", "unverified", "mismatch"}
    assert "capture_sha256" in excerpt

    rows = list(csv.DictReader(io.StringIO(client.get(reverse("kb:compare-csv", kwargs=spec)).content.decode())))
    old_row = next(r for r in rows if r["claim_url"].endswith("/claims/alpha/old-widgets/"))
    assert old_row["outdated"] == "yes" and old_row["outdated_since"] == "Alpha 2.0"
    assert old_row["superseded_by"] == "alpha/widgets"
    assert next(r for r in rows if r["claim_url"].endswith("/claims/alpha/widgets/"))["outdated"] == "no"


def test_json_says_which_excerpts_were_verified_against_which_capture(client, sample_kb):
    excerpt = m.Excerpt.objects.get(source__slug="sample", key="alpha-widgets")
    m.Excerpt.objects.filter(pk=excerpt.pk).update(verification=m.Verification.VERIFIED, verified_sha256="a" * 64)
    content_changed(excerpts=[excerpt.pk])
    data = client.get(reverse("kb:compare-json", kwargs={"spec": ["alpha", "beta"]})).json()
    assert data["excerpts"]["sample/alpha-widgets"]["verification"] == "verified"
    assert data["excerpts"]["sample/alpha-widgets"]["capture_sha256"] == "a" * 64
    assert data["excerpts"]["sample/alpha-slow"]["verification"] == "unverified"
    assert data["excerpts"]["sample/alpha-slow"]["capture_sha256"] is None


def test_claim_page_says_outdated_since_and_links_its_successor(client, sample_kb):
    claim = outdated_claim(reviewed="2026-11-28")
    html = client.get(claim.get_absolute_url()).content.decode()
    assert "Outdated since Alpha 2.0" in html
    assert f'href="{reverse("kb:claim", args=["alpha", "widgets"])}"' in html
    assert "28 November 2026" in html  # reviewed
    successor = client.get(reverse("kb:claim", args=["alpha", "widgets"])).content.decode()
    assert "(outdated since Alpha 2.0)" in successor  # listed among the cell's other claims
    assert "Not reviewed yet" in successor


# Differences mean support ----------------------------------------------------------------


def claim(subject, dimension, key, cell, support=""):
    return m.Claim.objects.create(
        subject=m.Subject.objects.get(slug=subject),
        dimension=dimension,
        key=key,
        cell=cell,
        support=support,
        status=m.Status.PUBLISHED,
    )


def test_only_differences_compares_support_levels_not_wording(sample_kb):
    group = m.DimensionGroup.objects.get(slug="features")
    same = m.Dimension.objects.create(slug="same", name="Same", group=group, order=10)
    claim("alpha", same, "same", "Built in, batteries included", m.Support.BUILT_IN)
    claim("beta", same, "same", "Ships with it", m.Support.BUILT_IN)  # other words, same support level
    qualitative = m.Dimension.objects.create(slug="style", name="Style", group=group, order=11)
    claim("alpha", qualitative, "style", "Explicit")
    claim("beta", qualitative, "style", "Implicit")  # no support levels: the answers differ
    table = build_table(subjects("alpha", "beta"), with_data=True)
    assert row(table, "widgets").differs  # built-in vs extension
    assert not row(table, "same").differs
    assert row(table, "style").differs
    assert not row(table, "startup").differs  # one subject's claim only: nothing to compare
    filters = ComparisonFilter({"only_differences": "1"}, table=table)
    assert [r.dimension.slug for r in filters.filter_rows(table.rows)] == ["widgets", "style"]


def test_only_shared_hides_rows_fewer_than_two_subjects_answer(sample_kb):
    table = build_table(subjects("alpha", "beta"), with_data=True)
    assert [r.claimed_count for r in table.rows] == [2, 1]
    filters = ComparisonFilter({"only_shared": "on"}, table=table)
    assert [r.dimension.slug for r in filters.filter_rows(table.rows)] == ["widgets"]
    bad = ComparisonFilter({"only_shared": "perhaps"}, table=table)
    assert len(bad.filter_rows(table.rows)) == 2  # ignored, and explained
    assert "only_shared" in bad.errors


def test_an_outdated_claim_alone_does_not_make_a_row_differ(sample_kb):
    m.Claim.objects.filter(subject__slug="beta", key="widgets").update(support=m.Support.BUILT_IN)
    content_changed()
    outdated_claim(support=m.Support.NOT_PROVIDED)  # alpha: built-in now, not provided once
    table = build_table(subjects("alpha", "beta"), with_data=True)
    assert not row(table, "widgets").differs


# Editing ------------------------------------------------------------------------------------


def form_data(claim, **changes):
    data = {
        "subject": claim.subject_id,
        "dimension": claim.dimension_id,
        "cell": claim.cell,
        "key": claim.key,
        "support": claim.support,
        "status": m.Status.DRAFT,
        "order": 0,
        "body": "",
        "editor_note": "",
        "applies_to": "",
        "outdated": "",
        "outdated_since": "",
        "superseded_by": "",
        "reviewed": "",
    }
    data.update(changes)
    return data


def ClaimAdminForm(**kwargs):
    fields = ["subject", "dimension", "cell", "key", "support", "status", "order", "body", "editor_note",
              "applies_to", "outdated", "outdated_since", "superseded_by", "reviewed"]  # fmt: skip
    return modelform_factory(m.Claim, form=ClaimForm, fields=fields)(**kwargs)


def test_the_admin_form_refuses_a_successor_or_date_on_a_current_claim(sample_kb):
    claim = m.Claim.objects.get(subject__slug="alpha", key="slow-start")
    successor = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    form = ClaimAdminForm(data=form_data(claim, outdated_since="Alpha 2.0", superseded_by=successor.pk), instance=claim)
    assert not form.is_valid()
    assert "outdated" in form.errors
    form = ClaimAdminForm(data=form_data(claim, outdated="on", superseded_by=claim.pk), instance=claim)
    assert not form.is_valid()
    assert "superseded_by" in form.errors
    form = ClaimAdminForm(
        data=form_data(claim, outdated="on", outdated_since="Alpha 2.0", superseded_by=successor.pk), instance=claim
    )
    assert form.is_valid(), form.errors


def test_the_database_refuses_a_current_claim_with_a_successor(sample_kb):
    claim = m.Claim.objects.get(subject__slug="alpha", key="slow-start")
    with pytest.raises(IntegrityError), transaction.atomic():
        m.Claim.objects.filter(pk=claim.pk).update(outdated_since="Alpha 2.0")


def test_the_claim_admin_offers_the_outdated_fields(admin_client, sample_kb):
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    html = admin_client.get(reverse("admin:kb_claim_change", args=[claim.pk])).content.decode()
    for name in ("applies_to", "outdated", "outdated_since", "superseded_by", "reviewed"):
        assert f'name="{name}"' in html
