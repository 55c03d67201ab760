"""A load parses only the files that changed since the base (kb.content.unchanged), deciding as if it read all."""

import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kb.comparison import read_model
from kb.content import files
from kb.content.schema import SPEC_BY_MODEL
from kb.content.unchanged import file_of
from kb.knowledge import models as m
from kb.site import search_index

pytestmark = pytest.mark.django_db


def load(directory, *args):
    out = StringIO()
    call_command("load_content", str(directory), *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def content(tmp_path, fixture_content_dir):
    target = tmp_path / "content"
    shutil.copytree(fixture_content_dir, target)
    load(target)
    return target


@pytest.fixture
def parsed(monkeypatch):
    """The files each load parses, relative to the content directory."""
    seen = []
    original = files.read_file

    def spy(file_type, path, label):
        seen.append(f"{path.parent.name}/{path.name}" if file_type.folder else path.name)
        return original(file_type, path, label)

    monkeypatch.setattr(files, "read_file", spy)
    return seen


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_load_of_unchanged_files_parses_only_those_always_read(content, parsed):
    assert "Nothing changed." in load(content)
    # subjects/ nest old slugs not keyed by their subject, so they are always read; nothing else is
    assert parsed and all(path.startswith("subjects/") for path in parsed), parsed


def test_a_load_after_an_edit_parses_that_file_and_writes_its_record_only(content, parsed):
    edit(content / "claims" / "alpha.yaml", "cell: Widget engine built in", "cell: Widget engine, built in")
    history = m.Claim.history.count()
    out = load(content)
    assert "claims: 0 created, 1 updated, 0 deleted" in out
    assert "claims/alpha.yaml" in parsed and "claims/beta.yaml" not in parsed
    assert m.Claim.history.count() == history + 1
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").cell == "Widget engine, built in"
    parsed.clear()
    assert "Nothing changed." in load(content)
    assert "claims/alpha.yaml" not in parsed


def test_an_admin_change_to_a_record_of_an_unchanged_file_is_kept_and_its_file_read(content, parsed):
    claim = m.Claim.objects.get(subject__slug="beta", key="widgets")
    claim.cell = "Changed in the admin"
    claim.save()
    out = load(content)
    assert "changed in the admin" in out
    assert "claims/beta.yaml" in parsed and "claims/alpha.yaml" not in parsed
    claim.refresh_from_db()
    assert claim.cell == "Changed in the admin"


def history_rows():
    return sum(spec.model.history.count() for spec in SPEC_BY_MODEL.values() if hasattr(spec.model, "history"))


def search_documents():
    return set(m.SearchDocument.objects.values_list("kind", "object_id", "title", "body", "public"))


@pytest.fixture
def no_rebuild(monkeypatch):
    """A load that deletes a few records refreshes what they touch: it never rebuilds the search index.

    Gives the real rebuild, to compare the index with.
    """
    original = search_index.rebuild

    def rebuild(using=None):
        raise AssertionError("the search index was rebuilt")

    monkeypatch.setattr(search_index, "rebuild", rebuild)
    return original


def test_a_load_deleting_a_claim_reads_its_file_and_writes_its_deletion_only(content, parsed, no_rebuild):
    path = content / "claims" / "alpha.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("- key: fast-start")])  # the last claim: the others keep their places
    claim = m.Claim.objects.get(subject__slug="alpha", key="fast-start")
    history = history_rows()
    out = load(content)
    assert "claims: 0 created, 0 updated, 1 deleted" in out
    assert "evidence: 0 created, 0 updated, 1 deleted" in out
    assert set(parsed) - {p for p in parsed if p.startswith("subjects/")} == {"claims/alpha.yaml"}
    assert history_rows() == history + 2  # the claim and its evidence, deleted
    assert not m.Claim.objects.filter(pk=claim.pk).exists()
    assert read_model.check() == []
    assert not m.SearchDocument.objects.filter(kind="claim", object_id=claim.pk).exists()
    documents = search_documents()
    no_rebuild()
    assert search_documents() == documents  # as a rebuild makes it
    parsed.clear()
    assert "Nothing changed." in load(content)
    assert "claims/alpha.yaml" not in parsed


def test_a_load_deleting_an_excerpt_nobody_quotes_reads_its_file_only(content, parsed, no_rebuild):
    source = content / "sources" / "sample.yaml"
    text = source.read_text()
    assert text.rstrip().endswith("text: Alpha starts fast enough for most uses.")  # the last excerpt
    source.write_text(text.rstrip() + "\n- key: spare\n  text: Nobody quotes this.\n")
    load(content)
    excerpt = m.Excerpt.objects.get(key="spare")
    assert m.SearchDocument.objects.filter(kind="excerpt", object_id=excerpt.pk).exists()
    source.write_text(text)
    parsed.clear()
    history = history_rows()
    out = load(content)
    assert "excerpts: 0 created, 0 updated, 1 deleted" in out
    assert set(parsed) - {p for p in parsed if p.startswith("subjects/")} == {"sources/sample.yaml"}
    assert history_rows() == history + 1
    assert not m.Excerpt.objects.filter(key="spare").exists()
    assert read_model.check() == []
    documents = search_documents()
    no_rebuild()
    assert search_documents() == documents
    assert not m.SearchDocument.objects.filter(kind="excerpt", object_id=excerpt.pk).exists()


def test_files_deleting_what_an_unread_file_refers_to_stop_the_load(content):
    """claims/alpha.yaml is unchanged, but refers to the dimension dimensions.yaml no longer has."""
    text = (content / "dimensions.yaml").read_text()
    (content / "dimensions.yaml").write_text(text.split("- slug: operations")[0])
    claims = m.Claim.objects.count()
    with pytest.raises(CommandError, match=r"claims/alpha.yaml:12: claim 'slow-start': dimension refers to unknown "):
        load(content)
    assert m.Dimension.objects.filter(slug="startup").exists()
    assert m.Claim.objects.count() == claims


def test_files_deleting_an_excerpt_that_other_files_quote_stop_the_load(content, parsed):
    """Before, the excerpt was deleted and the evidence quoting it went with it (a cascade), unreported.

    The files quoting it (found in the database, kb.content.referrers) are read; the others are not.
    """
    source = content / "sources" / "sample.yaml"
    text = source.read_text()
    source.write_text(text[: text.index("- key: alpha-widgets")] + text[text.index("- key: beta-plugins") :])
    evidence = m.Evidence.objects.count()
    with pytest.raises(CommandError, match=r"claims/alpha.yaml:10: .*excerpt refers to unknown excerpt 'sample/alpha"):
        load(content)
    assert m.Evidence.objects.count() == evidence
    assert m.Excerpt.objects.filter(key="alpha-widgets").exists()
    assert {"claims/alpha.yaml", "snippets/hello.yaml"} <= set(parsed)  # its evidence, a snippet derived from it
    assert "claims/beta.yaml" not in parsed


def test_every_record_has_the_file_its_key_names():
    claim = SPEC_BY_MODEL[m.Claim]
    evidence = SPEC_BY_MODEL[m.Evidence]
    assert file_of(claim, (("alpha",), "widgets")) == "claims/alpha.yaml"
    assert file_of(evidence, ((("alpha",), "widgets"), (("sample",), "quote"))) == "claims/alpha.yaml"
    assert file_of(SPEC_BY_MODEL[m.Excerpt], (("sample",), "quote")) == "sources/sample.yaml"
    assert file_of(SPEC_BY_MODEL[m.Dimension], ("startup",)) == "dimensions.yaml"
    assert file_of(SPEC_BY_MODEL[m.SubjectAlias], ("old",)) is None  # not keyed by its subject: always read


def test_files_deleting_a_claim_an_unread_file_names_as_successor_stop_the_load(content, parsed):
    """A reference to the same model (a claim's superseded_by, set once all claims exist) is found too."""
    edit(
        content / "claims" / "beta.yaml",
        "  cell: Widgets via plugins",
        "  outdated: true\n  superseded_by: alpha/fast-start\n  cell: Widgets via plugins",
    )
    load(content)
    path = content / "claims" / "alpha.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("- key: fast-start")])
    parsed.clear()
    with pytest.raises(
        CommandError,
        match=r"claims/beta.yaml:\d+: claim 'widgets': superseded_by refers to unknown claim 'alpha/fast-start'",
    ):
        load(content)
    assert "claims/beta.yaml" in parsed
    assert m.Claim.objects.get(subject__slug="beta", key="widgets").superseded_by.key == "fast-start"
