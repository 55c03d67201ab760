"""The editors' admin: who may do what, lists in a fixed number of queries, the evidence gate,
the quote check, previews and clean text."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kb.editing.admin_forms import EVIDENCE_GATE_MESSAGE, clean_text
from kb.evidence.captures import fingerprint, normalise_capture
from kb.knowledge import models as m
from tests.conftest import FIXTURES

KB_MODELS = [model for model in admin.site._registry if model._meta.app_label == "kb"]
AUTH_MODELS = [User, Group]
PAGES = ("changelist", "add", "change", "delete", "history")


def admin_url(model, page, obj=None):
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}"
    return reverse(name, args=[obj.pk] if page in ("change", "delete", "history") else [])


def some_object(model):
    obj = model.objects.order_by("pk").first()
    assert obj is not None, f"no {model.__name__} to open"
    return obj


def management_form(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def messages_of(response):
    return [str(message) for message in response.context["messages"]] if response.context else []


# Who may do what ----------------------------------------------------------------------


def test_editors_group_has_the_knowledge_base_and_nothing_else(db):
    group = Group.objects.get(name="Editors")
    perms = set(group.permissions.values_list("content_type__app_label", "codename"))
    assert {app for app, _ in perms} == {"kb"}
    for model in KB_MODELS:
        for action in ("view", "add", "change", "delete"):
            assert ("kb", f"{action}_{model._meta.model_name}") in perms
        assert ("kb", f"view_historical{model._meta.model_name}") in perms
        assert ("kb", f"change_historical{model._meta.model_name}") not in perms


def _matrix_cases():
    return [
        pytest.param(model, page, id=f"{model.__name__}-{page}") for model in KB_MODELS + AUTH_MODELS for page in PAGES
    ]


@pytest.mark.parametrize(("model", "page"), _matrix_cases())
def test_permission_matrix(client, sample_kb, editor, admin_user, model, page):
    obj = some_object(model) if page in ("change", "delete", "history") else None
    url = admin_url(model, page, obj)
    in_kb = model._meta.app_label == "kb"

    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("admin:login"))

    client.force_login(editor)
    assert client.get(url).status_code == (200 if in_kb else 403)

    client.force_login(admin_user)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("model_name", ["accessattempt", "accesslog"])
def test_editor_cannot_open_the_lockout_records(editor_client, admin_client, model_name):
    url = reverse(f"admin:axes_{model_name}_changelist")
    assert editor_client.get(url).status_code == 403
    assert admin_client.get(url).status_code == 200


def test_editor_index_shows_only_the_knowledge_base(editor_client):
    response = editor_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert [app["app_label"] for app in response.context["app_list"]] == ["kb"]


def test_editor_cannot_make_themselves_superuser(editor_client, editor):
    url = admin_url(User, "change", editor)
    data = {"username": editor.username, "is_active": "on", "is_staff": "on", "is_superuser": "on"}
    assert editor_client.post(url, data).status_code == 403
    editor.refresh_from_db()
    assert not editor.is_superuser


def test_editor_cannot_join_or_make_another_group(editor_client, editor, admin_user):
    admins = Group.objects.create(name="Administrators")
    response = editor_client.post(admin_url(Group, "add"), {"name": "Mine", "permissions": []})
    assert response.status_code == 403
    response = editor_client.post(admin_url(Group, "change", admins), {"name": "Administrators"})
    assert response.status_code == 403
    response = editor_client.post(
        admin_url(User, "change", admin_user),
        {"username": admin_user.username, "is_staff": "on", "groups": [admins.pk]},
    )
    assert response.status_code == 403
    assert not Group.objects.filter(name="Mine").exists()
    assert list(editor.groups.values_list("name", flat=True)) == ["Editors"]
    assert not editor.has_perm("auth.change_user")


# Lists in a fixed number of queries ------------------------------------------------------------


def build_rows(n, tag):
    """``n`` rows of every model, all linked the way real content is."""
    for i in range(n):
        kind = m.SubjectKind.objects.create(slug=f"{tag}-kind-{i}", name=f"Kind {tag} {i}")
        group = m.DimensionGroup.objects.create(slug=f"{tag}-group-{i}", name=f"Group {tag} {i}")
        subject = m.Subject.objects.create(slug=f"{tag}-subject-{i}", name=f"Subject {tag} {i}", kind=kind)
        target = m.Subject.objects.create(slug=f"{tag}-target-{i}", name=f"Target {tag} {i}", kind=kind)
        m.SubjectAlias.objects.create(slug=f"{tag}-old-{i}", subject=subject)
        m.SubjectRelation.objects.create(subject=subject, kind="extends", target=target)
        m.SubjectRunner.objects.create(subject=subject, language="python", runner=m.Runner.PYTHON, driver="import app")
        dimension = m.Dimension.objects.create(slug=f"{tag}-dim-{i}", name=f"Dimension {tag} {i}", group=group)
        source = m.Source.objects.create(slug=f"{tag}-source-{i}", title=f"Source {tag} {i}", archive="sample-article")
        excerpt = m.Excerpt.objects.create(source=source, key="quote", text="Alpha is slow to start.")
        claim = m.Claim.objects.create(
            subject=subject, dimension=dimension, key="claim", cell=f"Cell {i}", status=m.Status.PUBLISHED
        )
        m.Evidence.objects.create(claim=claim, excerpt=excerpt)
        task = m.Task.objects.create(slug=f"{tag}-task-{i}", title=f"Task {tag} {i}")
        m.Snippet.objects.create(task=task, subject=subject, language="python", code="print(1)", derived_from=excerpt)
        m.FeaturedComparison.objects.create(path=f"{subject.slug}-vs-{target.slug}")
        m.SynonymGroup.objects.create(term=f"{tag}-term-{i}", words=f"{tag}-word-{i}")


# Queries of each list page for an editor: session, user, the user's and the group's permissions,
# the two counts (page and full result), the rows, and one per related-object filter.
LIST_QUERIES = {
    "SubjectKind": 7,
    "Subject": 8,  # + kinds filter
    "SubjectAlias": 7,
    "SubjectRelation": 7,
    "SubjectRunner": 8,  # + the languages in use
    "DimensionGroup": 7,
    "Dimension": 8,  # + groups filter
    "Source": 8,  # + publishers filter
    "Excerpt": 8,  # + sources filter
    "Claim": 11,  # + kinds, groups, dimensions and subjects filters
    "Evidence": 7,
    "Task": 7,
    "Snippet": 10,  # + tasks and subjects filters, and the languages in use (any Pygments language is valid)
    "FeaturedComparison": 7,
    "SynonymGroup": 7,
}


@pytest.mark.parametrize("model", KB_MODELS, ids=lambda model: model.__name__)
def test_list_pages_run_a_fixed_number_of_queries(editor_client, fixture_archive_dir, model):
    url = admin_url(model, "changelist")
    build_rows(2, "few")
    with override_settings(KB_SOURCE_ARCHIVE=fixture_archive_dir), CaptureQueriesContext(connection) as few:
        assert editor_client.get(url).status_code == 200
    build_rows(40, "many")
    with override_settings(KB_SOURCE_ARCHIVE=fixture_archive_dir), CaptureQueriesContext(connection) as many:
        response = editor_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 42 * (2 if model is m.Subject else 1)
    assert len(many) == len(few), "\n".join(q["sql"] for q in many.captured_queries)
    assert len(many) == LIST_QUERIES[model.__name__]


def test_claim_list_pinned_with_django_assert_num_queries(editor_client, django_assert_num_queries):
    build_rows(3, "few")
    url = admin_url(m.Claim, "changelist")
    editor_client.get(url)
    with django_assert_num_queries(LIST_QUERIES["Claim"]):
        editor_client.get(url)
    build_rows(60, "many")
    with django_assert_num_queries(LIST_QUERIES["Claim"]):
        editor_client.get(url)


def test_claim_list_shows_the_columns_an_editor_scans(editor_client, sample_kb):
    response = editor_client.get(admin_url(m.Claim, "changelist"))
    content = response.content.decode()
    for header in ("Cell", "Subject", "Dimension", "Support", "Status", "Excerpts", "Last changed"):
        assert f">{header}<" in content or f">{header}</a>" in content, header
    claims = {c.key: c for c in response.context["cl"].result_list}
    assert claims["slow-start"].excerpt_count == 2


def test_claim_list_filters_claims_without_evidence(editor_client, sample_kb):
    claim = m.Claim.objects.get(key="fast-start")
    claim.evidence.all().delete()
    response = editor_client.get(admin_url(m.Claim, "changelist") + "?evidence=none")
    assert [c.key for c in response.context["cl"].result_list] == ["fast-start"]


def test_search_and_autocomplete(editor_client, sample_kb):
    response = editor_client.get(admin_url(m.Excerpt, "changelist") + "?q=plugins")
    assert [str(e) for e in response.context["cl"].result_list] == ["sample/beta-plugins"]
    response = editor_client.get(
        reverse("admin:autocomplete"),
        {"term": "widget engine", "app_label": "kb", "model_name": "evidence", "field_name": "excerpt"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["sample/alpha-widgets"]


# The evidence gate ---------------------------------------------------------------------------------


def claim_data(subject, dimension, status, **extra):
    data = {
        "subject": subject.pk,
        "dimension": dimension.pk,
        "key": "new-claim",
        "cell": "A new claim",
        "support": "built-in",
        "status": status,
        "order": "0",
        "body": "",
        "editor_note": "",
        **management_form("evidence"),
    }
    data.update(extra)
    return data


def test_claim_cannot_be_published_without_evidence(editor_client, sample_kb):
    alpha, widgets = m.Subject.objects.get(slug="alpha"), m.Dimension.objects.get(slug="widgets")
    response = editor_client.post(admin_url(m.Claim, "add"), claim_data(alpha, widgets, "published"))
    assert response.status_code == 200
    assert EVIDENCE_GATE_MESSAGE in response.context["adminform"].form.non_field_errors()
    assert EVIDENCE_GATE_MESSAGE in response.content.decode().replace("&ldquo;", "“").replace("&rdquo;", "”")
    assert not m.Claim.objects.filter(key="new-claim").exists()


def test_claim_can_be_saved_as_draft_without_evidence(editor_client, sample_kb):
    alpha, widgets = m.Subject.objects.get(slug="alpha"), m.Dimension.objects.get(slug="widgets")
    response = editor_client.post(admin_url(m.Claim, "add"), claim_data(alpha, widgets, "draft"))
    assert response.status_code == 302
    assert m.Claim.objects.get(key="new-claim").status == "draft"


def test_claim_published_with_evidence(editor_client, sample_kb):
    alpha, widgets = m.Subject.objects.get(slug="alpha"), m.Dimension.objects.get(slug="widgets")
    excerpt = m.Excerpt.objects.get(key="alpha-widgets")
    data = claim_data(
        alpha,
        widgets,
        "published",
        **management_form("evidence", total=1),
        **{"evidence-0-excerpt": excerpt.pk, "evidence-0-stance": "supports", "evidence-0-order": "0"},
    )
    response = editor_client.post(admin_url(m.Claim, "add"), data)
    assert response.status_code == 302, response.context["errors"]
    claim = m.Claim.objects.get(key="new-claim")
    assert claim.is_published
    assert list(claim.excerpts.all()) == [excerpt]


def test_deleting_the_last_evidence_of_a_published_claim_is_refused(editor_client, sample_kb):
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    evidence = claim.evidence.get()
    data = claim_data(
        claim.subject,
        claim.dimension,
        "published",
        key=claim.key,
        cell=claim.cell,
        **management_form("evidence", total=2, initial=1),
        **{
            "evidence-0-id": evidence.pk,
            "evidence-0-claim": claim.pk,
            "evidence-0-excerpt": evidence.excerpt_id,
            "evidence-0-stance": "supports",
            "evidence-0-order": "0",
            "evidence-0-DELETE": "on",
        },
    )
    response = editor_client.post(admin_url(m.Claim, "change", claim), data)
    assert response.status_code == 200
    assert EVIDENCE_GATE_MESSAGE in response.context["adminform"].form.non_field_errors()
    assert claim.evidence.exists()


def test_reverting_to_published_without_evidence_is_refused(editor_client, sample_kb):
    claim = m.Claim.objects.get(key="fast-start")
    claim.evidence.all().delete()
    record = claim.history.latest()
    url = reverse("admin:kb_claim_simple_history", args=[claim.pk, record.history_id])
    data = claim_data(claim.subject, claim.dimension, "published", key=claim.key, cell=claim.cell)
    data = {k: v for k, v in data.items() if not k.startswith("evidence-")}
    response = editor_client.post(url, data)
    assert response.status_code == 200
    assert EVIDENCE_GATE_MESSAGE in response.context["adminform"].form.errors["status"]
    claim.refresh_from_db()
    assert claim.status == "draft"


def run_action(client, action, claims):
    return client.post(
        admin_url(m.Claim, "changelist"),
        {"action": action, "_selected_action": [c.pk for c in claims]},
        follow=True,
    )


def test_publish_action_respects_the_evidence_gate(editor_client, editor, sample_kb):
    with_evidence = m.Claim.objects.get(key="fast-start")
    without = m.Claim.objects.create(
        subject=with_evidence.subject, dimension=with_evidence.dimension, key="bare", cell="Bare claim"
    )
    response = run_action(editor_client, "publish", [with_evidence, without])
    assert response.status_code == 200
    with_evidence.refresh_from_db()
    without.refresh_from_db()
    assert with_evidence.status == "published"
    assert without.status == "draft"
    texts = messages_of(response)
    assert "Published 1 claim(s)." in texts
    assert any("Not published" in text and "Bare claim" in text and "excerpt" in text for text in texts), texts
    record = with_evidence.history.latest()
    assert record.history_user == editor
    assert record.history_change_reason == "admin: publish"


def test_status_actions_invalidate_cached_pages(editor_client, sample_kb):
    before, _ = m.ContentVersion.objects.current()
    run_action(editor_client, "unpublish", list(m.Claim.objects.published()))
    after, _ = m.ContentVersion.objects.current()
    assert after > before


def test_unpublish_and_review_actions(editor_client, sample_kb):
    claims = list(m.Claim.objects.published())
    response = run_action(editor_client, "mark_for_review", claims)
    assert f"Marked {len(claims)} claim(s) for review." in messages_of(response)
    assert set(m.Claim.objects.filter(pk__in=[c.pk for c in claims]).values_list("status", flat=True)) == {"review"}
    run_action(editor_client, "unpublish", claims)
    assert set(m.Claim.objects.filter(pk__in=[c.pk for c in claims]).values_list("status", flat=True)) == {"draft"}


def test_deleting_an_excerpt_that_is_the_only_evidence_is_refused(editor_client, sample_kb):
    excerpt = m.Excerpt.objects.get(key="alpha-widgets")  # the only evidence of the published alpha/widgets
    response = editor_client.get(admin_url(m.Excerpt, "delete", excerpt))
    assert response.status_code == 200
    assert any("would be left without evidence" in str(item) for item in response.context["protected"])
    response = editor_client.post(admin_url(m.Excerpt, "delete", excerpt), {"post": "yes"})
    assert m.Excerpt.objects.filter(pk=excerpt.pk).exists()
    other = m.Excerpt.objects.get(key="alpha-fast")  # also cited by published slow-start, which keeps alpha-slow
    response = editor_client.post(admin_url(m.Excerpt, "delete", other), {"post": "yes"})
    assert response.status_code == 302
    assert not m.Excerpt.objects.filter(pk=other.pk).exists()


# The quote check -------------------------------------------------------------------------------------


def excerpt_data(source, text, key="new-quote"):
    return {"source": source.pk, "key": key, "text": text, "locator": "", "speaker": "", "order": "0"}


@pytest.fixture
def archive(settings, tmp_path):
    """No archive folder anywhere: the quote check works from the capture stored in the database."""
    settings.KB_SOURCE_ARCHIVE = tmp_path / "no-such-folder"
    return None


def test_excerpt_not_in_the_source_is_refused_with_the_closest_passage(editor_client, sample_kb, archive):
    source = m.Source.objects.get(slug="sample")
    response = editor_client.post(admin_url(m.Excerpt, "add"), excerpt_data(source, "Alpha is quick to start."))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["text"]
    assert "not found word for word" in errors[0]
    assert "Alpha is slow to start." in errors[0]
    assert not m.Excerpt.objects.filter(key="new-quote").exists()


def test_excerpt_quoted_verbatim_whitespace_aside_is_saved(editor_client, sample_kb, archive):
    source = m.Source.objects.get(slug="sample")
    text = "Beta leaves widgets\r\nto plugins,   such as beta-widgets,\r\n"
    response = editor_client.post(admin_url(m.Excerpt, "add"), excerpt_data(source, text))
    assert response.status_code == 302
    assert m.Excerpt.objects.get(key="new-quote").text == "Beta leaves widgets\nto plugins,   such as beta-widgets,"


def test_excerpt_of_a_source_without_capture_is_saved_unverified_and_says_so(editor_client, sample_kb, archive):
    source = m.Source.objects.create(slug="unarchived", title="Unarchived")
    response = editor_client.post(admin_url(m.Excerpt, "add"), excerpt_data(source, "Anything at all."), follow=True)
    assert response.status_code == 200
    excerpt = m.Excerpt.objects.get(key="new-quote")
    assert excerpt.verification == m.Verification.UNVERIFIED
    assert "cannot be checked: it is saved as unverified" in response.content.decode()


def test_excerpt_quoted_from_the_capture_is_recorded_verified_with_context(editor_client, sample_kb, archive):
    source = m.Source.objects.get(slug="sample")
    response = editor_client.post(admin_url(m.Excerpt, "add"), excerpt_data(source, "Alpha is slow to start."))
    assert response.status_code == 302
    excerpt = m.Excerpt.objects.get(key="new-quote")
    assert excerpt.verification == m.Verification.VERIFIED
    assert excerpt.verified_sha256 == source.capture.sha256
    assert excerpt.context_after == "Alpha starts fast enough for most uses."


def source_data(**extra):
    return {
        "title": "Another article",
        "slug": "another",
        "kind": "article",
        "author": "",
        "publisher": "",
        "url": "",
        "published": "",
        "updated_on": "",
        "captured": "",
        "archive": "sample-article",
        "notes": "",
        **management_form("excerpts", total=1),
        "excerpts-0-key": "q",
        "excerpts-0-order": "0",
        "excerpts-0-locator": "",
        "excerpts-0-speaker": "",
        **extra,
    }


SAMPLE_TEXT = (FIXTURES / "archive" / "sample-article.txt").read_text(encoding="utf-8")


def test_source_inline_excerpt_is_checked_against_the_text_pasted_in_the_same_form(editor_client, db, archive):
    data = source_data(**{"excerpts-0-text": "Alpha is fast.", "capture_text": SAMPLE_TEXT})
    response = editor_client.post(admin_url(m.Source, "add"), data)
    assert response.status_code == 200
    [inline] = response.context["inline_admin_formsets"]
    [errors] = inline.formset.errors
    assert "Alpha starts fast enough for most…" in errors["text"][0]  # whole words
    assert not m.Source.objects.filter(slug="another").exists()

    response = editor_client.post(
        admin_url(m.Source, "add"),
        source_data(**{"excerpts-0-text": "Alpha starts fast enough", "capture_text": SAMPLE_TEXT}),
    )
    assert response.status_code == 302
    source = m.Source.objects.get(slug="another")
    assert source.excerpts.get().text == "Alpha starts fast enough"
    assert source.excerpts.get().verification == m.Verification.VERIFIED
    assert source.capture.sha256 == source.capture_sha256 == fingerprint(normalise_capture(SAMPLE_TEXT))[0]


# Previews, view on site, clean text ------------------------------------------------------------------


def test_draft_claim_change_page_links_to_previews(editor_client, sample_kb):
    claim = m.Claim.objects.get(key="fast-start")
    response = editor_client.get(admin_url(m.Claim, "change", claim))
    content = response.content.decode()
    claim_preview = claim.get_absolute_url() + "?preview=1"
    compare_preview = reverse("kb:compare", args=[["alpha", "beta"]]) + "?preview=1"
    assert f'href="{claim_preview}"' in content
    assert f'href="{compare_preview}"' in content
    assert response.context["absolute_url"] == claim_preview  # "View on site" opens the preview of a draft


def test_published_claim_views_on_site_without_preview(editor_client, sample_kb):
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    response = editor_client.get(admin_url(m.Claim, "change", claim))
    assert response.context["absolute_url"] == claim.get_absolute_url()


@pytest.mark.parametrize(
    "model", [m.Subject, m.Dimension, m.Claim, m.Source, m.Task, m.Snippet, m.Excerpt], ids=lambda x: x.__name__
)
def test_view_on_site_from_every_change_page_with_a_public_page(editor_client, sample_kb, model):
    obj = some_object(model)
    response = editor_client.get(admin_url(model, "change", obj))
    assert response.context["has_absolute_url"]
    assert response.context["absolute_url"].split("?")[0].split("#")[0] == obj.get_absolute_url().split("#")[0]
    assert "View on site" in response.content.decode()


@pytest.mark.parametrize("model", [m.SubjectKind, m.Evidence, m.SubjectAlias], ids=lambda x: x.__name__)
def test_no_view_on_site_without_a_public_page(editor_client, sample_kb, model):
    response = editor_client.get(admin_url(model, "change", some_object(model)))
    assert not response.context["has_absolute_url"]


def test_subject_preview_link(editor_client, sample_kb):
    subject = m.Subject.objects.get(slug="alpha")
    response = editor_client.get(admin_url(m.Subject, "change", subject))
    assert f'href="{subject.get_absolute_url()}?preview=1"' in response.content.decode()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\r\nb", "a\nb"),
        ("a  \r\n  b\t\r\n\r\n", "a\n  b"),
        ("code:\n    indented   \n", "code:\n    indented"),
        ("old\rmac", "old\nmac"),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_textareas_are_saved_with_lf_and_no_trailing_whitespace(editor_client, sample_kb):
    subject = m.Subject.objects.get(slug="beta")
    data = {
        "name": "Beta",
        "slug": "beta",
        "kind": subject.kind_id,
        "summary": "First line.   \r\n\r\n- a point  \r\n",
        "homepage": "",
        "first_release": "",
        **management_form("aliases"),
        **management_form("relations"),
        **management_form("runners"),
    }
    response = editor_client.post(admin_url(m.Subject, "change", subject), data)
    assert response.status_code == 302, response.context["errors"]
    subject.refresh_from_db()
    assert subject.summary == "First line.\n\n- a point"


def test_relations_use_autocomplete_and_slugs_are_prepopulated(editor_client):
    for model in (m.Claim, m.Excerpt, m.Snippet, m.Evidence, m.Subject, m.Dimension):
        model_admin = admin.site._registry[model]
        for name in model_admin.autocomplete_fields:
            target = model._meta.get_field(name).related_model
            assert admin.site._registry[target].search_fields, target
    for model in (m.Subject, m.Dimension, m.Source, m.Task, m.SubjectKind, m.DimensionGroup):
        assert "slug" in admin.site._registry[model].prepopulated_fields


def test_autocomplete_keeps_the_display_order(editor_client, sample_kb):
    response = editor_client.get(
        reverse("admin:autocomplete"),
        {"term": "", "app_label": "kb", "model_name": "evidence", "field_name": "excerpt"},
    )
    expected = [str(e) for e in m.Excerpt.objects.select_related("source")]
    assert [r["text"] for r in response.json()["results"]] == expected


def _evidence_form(claim, changes=None, extra=None):
    """The claim's change form as posted: its evidence rows as they are, with ``changes`` to row 0."""
    rows = list(claim.evidence.order_by("order", "pk"))
    data = claim_data(
        claim.subject,
        claim.dimension,
        claim.status,
        key=claim.key,
        cell=claim.cell,
        support=claim.support,
        order=claim.order,
        body=claim.body,
        editor_note=claim.editor_note,
        applies_to=claim.applies_to,
        outdated="on" if claim.outdated else "",
        outdated_since=claim.outdated_since,
        superseded_by=claim.superseded_by_id or "",
        reviewed=claim.reviewed or "",
        **management_form("evidence", total=len(rows) + bool(extra), initial=len(rows)),
    )
    for index, evidence in enumerate(rows):
        data.update(
            {
                f"evidence-{index}-id": evidence.pk,
                f"evidence-{index}-claim": claim.pk,
                f"evidence-{index}-excerpt": evidence.excerpt_id,
                f"evidence-{index}-stance": evidence.stance,
                f"evidence-{index}-order": evidence.order,
            }
        )
    data.update({f"evidence-0-{name}": value for name, value in (changes or {}).items()})
    if extra:
        data.update({f"evidence-{len(rows)}-{name}": value for name, value in extra.items()})
    return data


@pytest.mark.parametrize(
    ("changes", "extra", "dated"),
    [
        pytest.param({"stance": "qualifies"}, None, True, id="stance"),
        pytest.param(None, {"excerpt": "other", "stance": "supports", "order": "5"}, True, id="added-quote"),
        pytest.param({"order": "7"}, None, False, id="reordered-only"),
        pytest.param(None, None, False, id="unchanged"),
    ],
)
def test_editing_a_claims_quotes_dates_the_claim_changed(editor_client, sample_kb, changes, extra, dated):
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    before = claim.changed
    if extra:
        extra = {**extra, "excerpt": m.Excerpt.objects.exclude(evidence__claim=claim).order_by("pk").first().pk}
    response = editor_client.post(admin_url(m.Claim, "change", claim), _evidence_form(claim, changes, extra))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    claim.refresh_from_db()
    assert (claim.changed != before) is dated
