"""History: every change is recorded with who and when, by the admin and by load_content."""

import shutil

import pytest
from django.core.management import call_command
from django.urls import reverse

from kb.content.loader import CHANGE_REASON
from kb.knowledge import models as m

TRACKED = [m.Claim, m.Excerpt, m.Source, m.Subject, m.Dimension, m.Snippet]


@pytest.mark.parametrize("model", TRACKED, ids=lambda model: model.__name__)
def test_load_records_history_without_user(sample_kb, model):
    pks = set(model.objects.values_list("pk", flat=True))
    records = model.history.filter(id__in=pks)  # (rows of other loads in this database aside)
    assert pks and set(records.values_list("id", flat=True)) == pks
    assert set(records.values_list("history_change_reason", "history_user")) == {(CHANGE_REASON, None)}
    assert "+" in set(records.values_list("history_type", flat=True))


def test_reload_of_changed_content_records_an_update(sample_kb, fixture_content_dir, tmp_path):
    content = tmp_path / "content"
    shutil.copytree(fixture_content_dir, content)
    call_command("load_content", str(content), verbosity=0)  # a copy the database was loaded from: then edited
    claims = content / "claims" / "beta.yaml"
    claims.write_text(claims.read_text().replace("Widgets via plugins", "Widgets through plugins"))
    call_command("load_content", str(content), verbosity=0)

    claim = m.Claim.objects.get(subject__slug="beta", key="widgets")
    latest = claim.history.latest()
    assert (latest.history_type, latest.history_change_reason, latest.history_user) == ("~", CHANGE_REASON, None)
    delta = latest.diff_against(latest.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes if c.field == "cell"] == [
        ("cell", "Widgets via plugins", "Widgets through plugins")
    ]
    # Unchanged records get no new history.
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").history.count() == 1


def test_admin_edit_records_the_editor(editor_client, editor, sample_kb):
    dimension = m.Dimension.objects.get(slug="startup")
    url = reverse("admin:kb_dimension_change", args=[dimension.pk])
    data = {
        "name": "Start-up time",
        "slug": "startup",
        "group": dimension.group_id,
        "description": "How long it takes to start.",
        "order": dimension.order,
    }
    assert editor_client.post(url, data).status_code == 302

    latest = dimension.history.latest()
    assert latest.history_type == "~"
    assert latest.history_user == editor
    assert latest.history_date is not None

    response = editor_client.get(reverse("admin:kb_dimension_history", args=[dimension.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "edith" in content
    assert CHANGE_REASON in content
    assert "<em>content files</em>" in content  # the loader, not a person
    [changes] = [r.history_delta_changes for r in response.context["page_obj"] if hasattr(r, "history_delta_changes")]
    # What changed, without the fields that follow from it (description_html).
    assert [change["field"] for change in changes] == ["Description"]
    assert "How long it takes to start." in content


def test_inline_edits_record_the_editor(editor_client, editor, sample_kb):
    source = m.Source.objects.get(slug="sample")
    url = reverse("admin:kb_source_change", args=[source.pk])
    excerpts = list(source.excerpts.order_by("order", "key"))
    data = {
        "title": source.title,
        "slug": source.slug,
        "kind": source.kind,
        "author": source.author,
        "publisher": source.publisher,
        "url": source.url,
        "published": source.published.isoformat(),
        "updated_on": "",
        "captured": "",
        "archive": source.archive,
        "notes": "",
        "excerpts-TOTAL_FORMS": str(len(excerpts)),
        "excerpts-INITIAL_FORMS": str(len(excerpts)),
        "excerpts-MIN_NUM_FORMS": "0",
        "excerpts-MAX_NUM_FORMS": "1000",
    }
    for i, excerpt in enumerate(excerpts):
        for name in ("key", "text", "locator", "speaker", "order"):
            data[f"excerpts-{i}-{name}"] = getattr(excerpt, name)
        data[f"excerpts-{i}-id"] = excerpt.pk
        data[f"excerpts-{i}-source"] = source.pk
    changed = excerpts[0]
    data["excerpts-0-locator"] = "Introduction"
    response = editor_client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    latest = m.Excerpt.objects.get(pk=changed.pk).history.latest()
    assert (latest.history_type, latest.history_user, latest.locator) == ("~", editor, "Introduction")
    # The other excerpts were not saved again.
    assert all(e.history.count() == 1 for e in excerpts[1:])


def test_history_of_a_deleted_record_is_kept(editor_client, editor, sample_kb):
    snippet = m.Snippet.objects.get(subject__slug="beta")
    response = editor_client.post(reverse("admin:kb_snippet_delete", args=[snippet.pk]), {"post": "yes"})
    assert response.status_code == 302
    record = m.Snippet.history.filter(id=snippet.pk).latest()
    assert (record.history_type, record.history_user) == ("-", editor)
