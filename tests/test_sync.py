"""Three-way sync: editors' work is never lost, file changes are never silently dropped, dates are the content's."""

import datetime
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from kb.content.exporter import export_content
from kb.knowledge import models as m

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def load(directory, *args):
    out, err = StringIO(), StringIO()
    call_command("load_content", str(directory), *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


@pytest.fixture
def content(tmp_path, fixture_content_dir):
    target = tmp_path / "content"
    shutil.copytree(fixture_content_dir, target)
    load(target)
    return target


def admin_save(obj, reason="admin"):
    obj._change_reason = reason
    obj.save()
    return obj


def edit_file(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def add_source_and_published_claim():
    """What the issue's editor did in the admin: a new source, and a published claim quoting it."""
    source = admin_save(m.Source(slug="new-source", title="A new source", kind=m.SourceKind.ARTICLE))
    excerpt = admin_save(m.Excerpt(source=source, key="quote", text="Alpha is quick."))
    claim = admin_save(
        m.Claim(
            subject=m.Subject.objects.get(slug="alpha"), dimension=m.Dimension.objects.get(slug="startup"),
            key="quick", cell="Quick", status=m.Status.PUBLISHED,
        )
    )  # fmt: skip
    admin_save(m.Evidence(claim=claim, excerpt=excerpt))
    return source, claim


# The repro from the issue ---------------------------------------------------------------------


def test_export_elsewhere_then_load_keeps_the_editors_source_and_claim(content, tmp_path):
    source, claim = add_source_and_published_claim()
    export_content(tmp_path / "x")
    output = load(content)
    assert "source 'new-source': added in the admin" in output
    assert "claim 'alpha/quick': added in the admin" in output
    assert f"export_content {content}" in output
    assert "0 deleted" in output and " 1 deleted" not in output
    assert m.Source.objects.filter(pk=source.pk).exists()
    assert m.Claim.objects.get(pk=claim.pk).status == m.Status.PUBLISHED
    # and again: a kept record stays kept until it is exported
    assert "claim 'alpha/quick': added in the admin" in load(content)
    assert m.Claim.objects.filter(pk=claim.pk).exists()


def test_export_elsewhere_marks_nothing_for_the_content_directory(content, tmp_path):
    synced = m.SyncDirectory.objects.get(path=str(content.resolve()))
    before = sorted(synced.records.values_list("model", "key", "fingerprint", "position", "added", "changed"))
    add_source_and_published_claim()
    export_content(tmp_path / "x")
    after = sorted(synced.records.values_list("model", "key", "fingerprint", "position", "added", "changed"))
    assert after == before
    assert m.SyncDirectory.objects.get(path=str((tmp_path / "x").resolve())).exported is not None


def test_export_to_the_loaded_directory_carries_the_admin_work(content):
    add_source_and_published_claim()
    export_content(content)
    output = load(content)
    assert "Nothing changed." in output and "added in the admin" not in output
    # the records are now the files': deleting them in the files deletes them in the database
    (content / "sources" / "new-source.yaml").unlink()
    edit_file(content / "claims" / "alpha.yaml", "- key: quick\n", "- key: quick\n")  # still there
    claims = (content / "claims" / "alpha.yaml").read_text()
    start = claims.index("- key: quick")
    (content / "claims" / "alpha.yaml").write_text(claims[:start])
    output = load(content)
    assert "sources: 0 created, 0 updated, 1 deleted" in output
    assert not m.Claim.objects.filter(key="quick").exists()


def test_issue_20_five_steps_keep_the_editors_claim(content, tmp_path):
    """Export other; load other; an editor adds a claim; export other; load content/ (no --force)."""
    other = tmp_path / "other"
    export_content(other)
    load(other)
    claim = admin_save(
        m.Claim(
            subject=m.Subject.objects.get(slug="beta"), dimension=m.Dimension.objects.get(slug="startup"),
            key="fast-start", cell="Blue", status=m.Status.PUBLISHED,
        )
    )  # fmt: skip
    export_content(other)
    output = load(content)
    assert m.Claim.objects.filter(pk=claim.pk, cell="Blue").exists(), output
    assert "claim 'beta/fast-start': added in the admin" in output
    assert " 1 deleted" not in output


# Each case of the table ------------------------------------------------------------------------


def test_files_changes_apply_while_admin_changes_on_other_records_are_kept(content):
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    claim.cell = "Edited in the admin"
    admin_save(claim)
    edit_file(content / "claims" / "beta.yaml", "cell: ", "cell: Files say ")
    output = load(content)
    assert "claim 'alpha/widgets': changed in the admin" in output
    assert m.Claim.objects.get(pk=claim.pk).cell == "Edited in the admin"
    assert m.Claim.objects.get(subject__slug="beta", key="widgets").cell.startswith("Files say ")


def test_a_record_deleted_in_the_files_and_unchanged_in_the_admin_is_deleted(content):
    edit_file(content / "subjects" / "alpha.yaml", "old_slugs:\n- alpha-classic\n", "")
    assert "subject aliases: 0 created, 0 updated, 1 deleted" in load(content)


def test_admin_change_against_a_deletion_in_the_files_is_a_conflict(content):
    snippet = m.Snippet.objects.get(subject__slug="alpha")
    snippet.explanation = "Explained in the admin."
    admin_save(snippet)
    shutil.rmtree(content / "snippets")
    with pytest.raises(CommandError) as caught:
        load(content)
    message = str(caught.value)
    assert "snippet 'hello/alpha/python': changed in the admin, deleted in the files" in message
    assert "Explained in the admin." in message
    assert m.Snippet.objects.get(pk=snippet.pk).explanation == "Explained in the admin."


def test_admin_deletion_against_a_change_in_the_files_is_a_conflict(content):
    m.Claim.objects.get(subject__slug="beta", key="widgets").delete()
    edit_file(content / "claims" / "beta.yaml", "cell: ", "cell: Files say ")
    with pytest.raises(CommandError, match=r"claim 'beta/widgets': deleted in the admin, changed in the files"):
        load(content)
    assert not m.Claim.objects.filter(subject__slug="beta", key="widgets").exists()


def test_a_kept_record_never_loses_what_it_refers_to(content):
    """The files delete a subject; the admin added a claim about it: the claim is not cascaded away."""
    plugin = m.Subject.objects.get(slug="beta-widgets")
    added = admin_save(m.Claim(subject=plugin, dimension=m.Dimension.objects.first(), key="new", cell="New"))
    (content / "subjects" / "beta-widgets.yaml").unlink()
    with pytest.raises(CommandError) as caught:
        load(content)
    expected = "claim 'beta-widgets/new': kept from the admin, but refers to subject 'beta-widgets' (subject)"
    assert f"{expected}, which the files delete" in str(caught.value)
    assert m.Claim.objects.filter(pk=added.pk).exists()
    err = StringIO()
    call_command("load_content", str(content), "--force", stdout=StringIO(), stderr=err)
    assert expected in err.getvalue()
    assert not m.Subject.objects.filter(slug="beta-widgets").exists()


def test_same_change_on_both_sides_is_no_conflict(content):
    claim = m.Claim.objects.get(subject__slug="beta", key="widgets")
    edit_file(content / "claims" / "beta.yaml", f"cell: {claim.cell}", "cell: Agreed")
    claim.cell = "Agreed"
    admin_save(claim)
    assert "Nothing changed." in load(content)


def test_a_new_directory_has_no_past_so_every_difference_is_a_conflict(content, tmp_path):
    """A folder never loaded or exported: nothing is known of its past, so nothing in the database is undone."""
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    claim.cell = "Edited in the admin"
    admin_save(claim)
    other = tmp_path / "other"
    shutil.copytree(content, other)
    edit_file(other / "claims" / "beta.yaml", "cell: ", "cell: Other says ")
    with pytest.raises(CommandError) as caught:
        load(other)
    assert "claim 'alpha/widgets': added in the admin and in the files, differently" in str(caught.value)
    assert "claim 'beta/widgets': added in the admin and in the files, differently" in str(caught.value)
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").cell == "Edited in the admin"
    # an empty folder loaded for the first time deletes nothing: what only the database holds is kept
    empty = tmp_path / "empty"
    empty.mkdir()
    output = load(empty)
    assert "Nothing changed." in output and " 1 deleted" not in output
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").cell == "Edited in the admin"
    # --force takes the new folder's side, and names the admin's version it discards
    output = load(other, "--force")
    assert "claim 'alpha/widgets': added in the admin and in the files, differently" in output
    assert m.Claim.objects.get(subject__slug="beta", key="widgets").cell.startswith("Other says ")


# Starting the site ---------------------------------------------------------------------------------


def start(directory, *args):
    out, err = StringIO(), StringIO()
    call_command("load_for_startup", str(directory), *args, stdout=out, stderr=err)
    return err.getvalue()


def test_startup_with_unexported_admin_work_and_a_conflict_starts_with_a_warning(content):
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    claim.cell = "Edited in the admin"
    admin_save(claim)
    add_source_and_published_claim()
    edit_file(content / "claims" / "alpha.yaml", "Widget engine built in", "Changed in the files")
    warning = start(content)  # returns normally: make goes on to start the server
    assert "the content files were NOT loaded; the site starts on the current database" in warning
    assert "claim 'alpha/widgets': changed in the admin and in the files" in warning
    assert "export_content" in warning and "--force" in warning
    assert m.Claim.objects.get(pk=claim.pk).cell == "Edited in the admin"
    assert m.Source.objects.filter(slug="new-source").exists()


def test_startup_keeps_unexported_admin_work_and_names_it(content):
    add_source_and_published_claim()
    warning = start(content)
    assert "claim 'alpha/quick': added in the admin" in warning
    assert m.Claim.objects.filter(key="quick").exists()


def test_a_broken_file_stops_make_run_but_not_make_serve(content):
    before = list(m.Claim.objects.values_list("cell", flat=True))
    edit_file(content / "claims" / "alpha.yaml", "- key: widgets\n", "- key: widgets\n  bogus: 1\n")
    with pytest.raises(CommandError, match="unknown field 'bogus'"):
        start(content)
    warning = start(content, "--keep-serving")
    assert "keeps serving the last good database" in warning and "unknown field 'bogus'" in warning
    assert list(m.Claim.objects.values_list("cell", flat=True)) == before


# The content's own dates ---------------------------------------------------------------------------

FIXTURE_ADDED = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
FIXTURE_CHANGED = datetime.datetime(2026, 11, 21, 10, 30, tzinfo=UTC)


def test_a_load_takes_the_files_dates(content):
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    assert (claim.added, claim.changed) == (FIXTURE_ADDED, FIXTURE_CHANGED)
    assert m.Excerpt.objects.filter(changed=FIXTURE_CHANGED).count() == m.Excerpt.objects.count()


def test_loads_never_reset_dates(content, tmp_path):
    dates = dict(m.Claim.objects.values_list("pk", "changed"))
    load(content)
    edit_file(content / "claims" / "beta.yaml", "cell: ", "cell: Files say ")  # another record changes
    load(content)
    beta = m.Claim.objects.get(subject__slug="beta")
    assert {pk: d for pk, d in m.Claim.objects.values_list("pk", "changed") if pk != beta.pk} == {
        pk: d for pk, d in dates.items() if pk != beta.pk
    }
    export_content(tmp_path / "elsewhere")  # and a load of another copy leaves them too
    assert dict(m.Claim.objects.values_list("pk", "changed")) == dict(m.Claim.objects.values_list("pk", "changed"))
    load(tmp_path / "elsewhere")
    assert m.Claim.objects.exclude(pk=beta.pk).filter(changed=FIXTURE_CHANGED).count() == len(dates) - 1


def test_a_change_in_the_files_without_a_new_date_is_dated_by_the_load(content):
    edit_file(content / "claims" / "beta.yaml", "cell: ", "cell: Files say ")
    before = timezone.now().replace(microsecond=0)
    load(content)
    beta = m.Claim.objects.get(subject__slug="beta")
    assert beta.added == FIXTURE_ADDED
    assert beta.changed >= before


def test_a_date_edited_in_the_files_is_applied(content):
    edit_file(content / "claims" / "beta.yaml", "changed: 2026-11-21 10:30:00", "changed: 2026-11-25 08:00:00")
    load(content)
    assert m.Claim.objects.get(subject__slug="beta").changed == datetime.datetime(2026, 11, 25, 8, tzinfo=UTC)


def test_a_record_new_in_the_files_without_dates_gets_the_load_time_and_export_writes_it(content):
    path = content / "claims" / "beta.yaml"
    path.write_text(path.read_text() + "- key: fresh\n  dimension: startup\n  cell: Fresh\n")
    before = timezone.now().replace(microsecond=0)
    load(content)
    fresh = m.Claim.objects.get(key="fresh")
    assert fresh.added >= before and fresh.changed == fresh.added
    export_content(content)
    written = path.read_text()
    assert f"added: {fresh.added.replace(microsecond=0).isoformat(' ')}" in written
    assert "Nothing changed." in load(content)
    assert m.Claim.objects.get(key="fresh").added == fresh.added


def test_saving_changed_content_sets_changed_and_nothing_else_does(content):
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    admin_save(claim)
    claim.order = 9
    admin_save(claim)
    claim.reviewed = datetime.date(2026, 11, 27)
    admin_save(claim)
    assert m.Claim.objects.get(pk=claim.pk).changed == FIXTURE_CHANGED
    claim = m.Claim.objects.get(pk=claim.pk)
    claim.cell = "Now different"
    before = timezone.now()
    admin_save(claim)
    claim = m.Claim.objects.get(pk=claim.pk)
    assert claim.changed >= before and claim.added == FIXTURE_ADDED


@pytest.mark.usefixtures("sample_kb")
def test_admin_forms_and_actions_date_their_changes(editor_client):
    claim = m.Claim.objects.get(subject__slug="alpha", key="fast-start")
    assert claim.status != m.Status.PUBLISHED and claim.changed == FIXTURE_CHANGED
    before = timezone.now()
    editor_client.post(
        reverse("admin:kb_claim_changelist"),
        {"action": "publish", "_selected_action": [claim.pk]},
    )
    claim = m.Claim.objects.get(pk=claim.pk)
    assert claim.status == m.Status.PUBLISHED and claim.changed >= before
    m.Capture.objects.all().delete()  # the new wording is checked against no capture: saved, unverified
    excerpt = m.Excerpt.objects.first()
    url = reverse("admin:kb_excerpt_change", args=[excerpt.pk])
    data = {
        "source": excerpt.source_id, "key": excerpt.key, "text": excerpt.text + " More.", "locator": excerpt.locator,
        "speaker": excerpt.speaker, "order": excerpt.order,
    }  # fmt: skip
    response = editor_client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    excerpt = m.Excerpt.objects.get(pk=excerpt.pk)
    assert excerpt.changed >= before and excerpt.added == FIXTURE_ADDED
    new = m.Excerpt.objects.create(source=excerpt.source, key="brand-new", text="Brand new.")
    assert new.added is not None and new.added == new.changed


@pytest.mark.usefixtures("sample_kb")
def test_pages_show_the_contents_own_dates(client):
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    claim.reviewed = datetime.date(2026, 11, 27)
    admin_save(claim)
    page = client.get(claim.get_absolute_url()).content.decode()
    assert '<time datetime="2026-11-20T09:00:00+00:00">20 November 2026</time>' in page
    assert '<time datetime="2026-11-21T10:30:00+00:00">21 November 2026</time>' in page
    assert '<time datetime="2026-11-27">27 November 2026</time>' in page
    task = m.Task.objects.get()
    page = client.get(task.get_absolute_url()).content.decode()
    assert 'Last changed <time datetime="2026-11-21T10:30:00+00:00">21 November 2026</time>' in page
