"""load_content / export_content: idempotence, clear errors that leave the database alone, exact round trips."""

import shutil

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from kb.content.exporter import export_content
from kb.content.loader import load_content
from kb.knowledge import models as m

pytestmark = pytest.mark.django_db


def snapshot():
    """Every content-bearing row, as plain values, to compare database states."""
    return {
        model.__name__: sorted(
            tuple(sorted((k, str(v)) for k, v in row.items() if k not in ("created", "updated")))
            for row in model.objects.values()
        )
        for model in (
            m.SubjectKind, m.Subject, m.SubjectAlias, m.SubjectRelation, m.DimensionGroup, m.Dimension,
            m.Source, m.Excerpt, m.Claim, m.Evidence, m.Task, m.Snippet,
        )
    }  # fmt: skip


@pytest.fixture
def content_copy(tmp_path, fixture_content_dir):
    target = tmp_path / "content"
    shutil.copytree(fixture_content_dir, target)
    return target


def run_load(directory):
    from io import StringIO

    out = StringIO()
    call_command("load_content", str(directory), stdout=out)
    return out.getvalue()


def test_load_creates_everything(content_copy):
    output = run_load(content_copy)
    assert "claims: 4 created, 0 updated, 0 deleted, 0 unchanged" in output
    assert m.Subject.objects.count() == 3
    alpha = m.Subject.objects.get(slug="alpha")
    assert alpha.kind.slug == "tool"
    assert "<em>sample</em>" in alpha.summary_html
    assert m.SubjectAlias.objects.get(slug="alpha-classic").subject == alpha
    assert m.SubjectRelation.objects.get().kind == m.RelationKind.EXTENDS
    claim = m.Claim.objects.get(subject=alpha, key="slow-start")
    assert [(e.excerpt.key, e.stance) for e in claim.evidence.all()] == [
        ("alpha-slow", "supports"),
        ("alpha-fast", "contradicts"),
    ]
    snippet = m.Snippet.objects.get(subject=alpha)
    assert 'class="highlight"' in snippet.code_html
    assert snippet.derived_from.key == "alpha-widgets"
    assert list(m.Dimension.objects.in_order().values_list("slug", flat=True)) == ["widgets", "startup"]


def test_loading_twice_changes_nothing(content_copy):
    run_load(content_copy)
    before = snapshot()
    updated_before = dict(m.Claim.objects.values_list("pk", "updated"))
    output = run_load(content_copy)
    assert "Nothing changed." in output
    assert " 0 created, 0 updated, 0 deleted" in output
    assert "1 created" not in output and "1 updated" not in output
    assert snapshot() == before
    assert dict(m.Claim.objects.values_list("pk", "updated")) == updated_before


def test_load_updates_and_deletes(content_copy):
    run_load(content_copy)
    beta_claims = content_copy / "claims" / "beta.yaml"
    beta_claims.unlink()
    claims = content_copy / "claims" / "alpha.yaml"
    claims.write_text(claims.read_text().replace("Widget engine built in", "Widgets in the box"))
    output = run_load(content_copy)
    assert "claims: 0 created, 1 updated, 1 deleted, 2 unchanged" in output
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").cell == "Widgets in the box"
    assert not m.Claim.objects.filter(subject__slug="beta").exists()


def test_load_records_history(content_copy):
    run_load(content_copy)
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    record = claim.history.latest()
    assert record.history_type == "+"
    assert record.history_change_reason == "load_content"
    assert record.history_user is None


# (file, old text, new text, expected message parts)
BROKEN = [
    (
        "claims/alpha.yaml",
        "- key: widgets\n",
        "- key: widgets\n  bogus: 1\n",
        ["claims/alpha.yaml:1", "unknown field 'bogus'"],
    ),
    (
        "claims/alpha.yaml",
        "  dimension: startup\n  status: published",
        "  dimension: nowhere\n  status: published",
        ["claims/alpha.yaml:", "claim 'slow-start'", "unknown dimension 'nowhere'"],
    ),
    (
        "claims/alpha.yaml",
        "  support: built-in\n",
        "  support: sometimes\n",
        ["claims/alpha.yaml:1", "claim 'widgets'", "support", "not a valid choice"],
    ),
    (
        "claims/alpha.yaml",
        "  cell: Widget engine built in\n",
        "",
        ["claims/alpha.yaml:1", "missing required field 'cell'"],
    ),
    (
        "claims/alpha.yaml",
        "  cell: Widget engine built in\n",
        "  cell: [unclosed\n",
        ["claims/alpha.yaml:", "YAML syntax error"],
    ),
    (
        "claims/alpha.yaml",
        "  cell: Widget engine built in\n",
        "  cell: no\n",
        ["must be text", "put the value in quotes"],
    ),
    ("claims/alpha.yaml", "    stance: contradicts\n", "    stance: hates\n", ["stance", "not a valid choice"]),
    ("claims/alpha.yaml", "sample/alpha-slow", "sample/missing", ["unknown excerpt 'sample/missing'"]),
    (
        "subjects/alpha.yaml",
        "kind: tool\n",
        "kind: gadget\n",
        ["subjects/alpha.yaml:1", "unknown subject kind 'gadget'"],
    ),
    ("subjects/beta-widgets.yaml", "target: beta", "target: gamma", ["unknown subject 'gamma'"]),
    (
        "subjects/alpha.yaml",
        "first_release: 2010",
        "first_release: 1066",
        ["first_release", "greater than or equal to 1950"],
    ),
    (
        "subjects/alpha.yaml",
        "homepage: https://alpha.example.org/",
        "homepage: javascript:alert(1)",
        ["subjects/alpha.yaml:1", "homepage", "valid URL"],
    ),
    ("sources/sample.yaml", "published: 2020-01-31", "published: last tuesday", ["must be a date written YYYY-MM-DD"]),
    ("sources/sample.yaml", "kind: article", "kind: rumour", ["kind", "not a valid choice"]),
    (
        "sources/sample.yaml",
        "- key: alpha-slow\n",
        "- key: alpha-widgets\n",
        ["duplicate excerpt 'sample/alpha-widgets'"],
    ),
    ("snippets/hello.yaml", "  language: shell\n", "  language: klingon\n", ["language", "not a language Pygments"]),
    (
        "snippets/hello.yaml",
        "  not_runnable_reason: Needs a Beta installation.\n",
        "",
        ["snippet 'beta/shell'", "Say why a snippet cannot be run"],
    ),
    (
        "dimensions.yaml",
        "  - slug: startup\n",
        "  - slug: widgets\n",
        ["dimensions.yaml:", "duplicate dimension 'widgets'"],
    ),
    ("kinds.yaml", "- slug: plugin\n", "- slug: Not A Slug\n", ["kinds.yaml:", "must be a slug"]),
]


@pytest.mark.parametrize(("path", "old", "new", "expected"), BROKEN, ids=[f"{b[0]}:{b[3][-1]}" for b in BROKEN])
def test_broken_file_is_refused_and_database_unchanged(content_copy, path, old, new, expected):
    run_load(content_copy)
    before = snapshot()
    target = content_copy / path
    text = target.read_text()
    assert old in text, f"test set-up: {old!r} not in {path}"
    target.write_text(text.replace(old, new, 1))
    with pytest.raises(CommandError) as caught:
        run_load(content_copy)
    message = str(caught.value)
    for part in expected:
        assert part in message
    assert "database is unchanged" in message
    assert snapshot() == before


def test_broken_file_in_empty_database_leaves_it_empty(content_copy):
    (content_copy / "claims" / "beta.yaml").write_text("- key: x\n  dimension: widgets\n")
    with pytest.raises(CommandError, match=r"claims/beta\.yaml:1"):
        run_load(content_copy)
    assert not m.Subject.objects.exists()


def test_unexpected_files_are_named(content_copy):
    (content_copy / "subjects" / "Bad Name.yml").write_text("name: x\n")
    with pytest.raises(CommandError, match=r"Bad Name\.yml"):
        run_load(content_copy)


def test_failure_mid_load_rolls_back(content_copy, monkeypatch):
    run_load(content_copy)
    before = snapshot()
    claims = content_copy / "claims" / "alpha.yaml"
    claims.write_text(claims.read_text().replace("Widget engine built in", "Changed"))
    from kb.content import loader

    original = loader.Loader._write

    def explode(self, spec, created, updated, compared):
        original(self, spec, created, updated, compared)
        if spec.model is m.Evidence:
            raise RuntimeError("injected failure")

    monkeypatch.setattr(loader.Loader, "_write", explode)
    with pytest.raises(RuntimeError):
        load_content(content_copy)
    assert snapshot() == before


def test_export_round_trip_is_byte_for_byte(content_copy, tmp_path):
    run_load(content_copy)
    out = tmp_path / "exported"
    export_content(out)
    originals = sorted(p.relative_to(content_copy) for p in content_copy.rglob("*.yaml"))
    exported = sorted(p.relative_to(out) for p in out.rglob("*.yaml"))
    assert exported == originals
    for relative in originals:
        assert (out / relative).read_bytes() == (content_copy / relative).read_bytes(), relative


def test_export_reflects_admin_edits_and_removes_stale_files(content_copy, tmp_path):
    run_load(content_copy)
    claim = m.Claim.objects.get(subject__slug="beta", key="widgets")
    claim.cell = "Edited in the admin"
    claim.save()
    m.Task.objects.all().delete()
    _, _, removed = export_content(content_copy)
    assert "cell: Edited in the admin" in (content_copy / "claims" / "beta.yaml").read_text()
    assert not (content_copy / "snippets" / "hello.yaml").exists()
    assert [p.name for p in removed] == ["hello.yaml"]
    # and the export loads back to the same database
    before = snapshot()
    assert "Nothing changed." in run_load(content_copy)
    assert snapshot() == before


def test_export_then_load_into_empty_database_reproduces_it(content_copy, tmp_path):
    run_load(content_copy)
    before = snapshot()
    out = tmp_path / "exported"
    export_content(out)
    for model in (m.Evidence, m.Snippet, m.Claim, m.Task, m.Excerpt, m.Source, m.Dimension, m.DimensionGroup):
        model.objects.all().delete()
    m.Subject.objects.all().delete()
    m.SubjectKind.objects.all().delete()
    m.SyncDirectory.objects.all().delete()  # an empty database has never been synced
    run_load(out)
    after = snapshot()
    strip_ids = {name: sorted(tuple(p for p in row if p[0] != "id" and not p[0].endswith("_id")) for row in rows)
                 for name, rows in before.items()}  # fmt: skip
    assert {
        name: sorted(tuple(p for p in row if p[0] != "id" and not p[0].endswith("_id")) for row in rows)
        for name, rows in after.items()
    } == strip_ids


def test_real_content_round_trips(db, tmp_path, settings):
    """content/ in the repository is canonical: load then export reproduces it byte for byte."""
    content = settings.KB_CONTENT_DIR
    load_content(content)
    out = tmp_path / "exported"
    export_content(out)
    for path in sorted(content.rglob("*.yaml")):
        relative = path.relative_to(content)
        assert (out / relative).read_bytes() == path.read_bytes(), f"{relative} is not in canonical form"
    assert sorted(p.relative_to(out) for p in out.rglob("*.yaml")) == sorted(
        p.relative_to(content) for p in content.rglob("*.yaml")
    )


# Constraints hold in the database, not only in forms --------------------------------------------


@pytest.mark.usefixtures("sample_kb")
class TestConstraints:
    def integrity_error(self, create):
        with pytest.raises(IntegrityError), transaction.atomic():
            create()

    def test_unique_subject_slug(self):
        kind = m.SubjectKind.objects.first()
        self.integrity_error(lambda: m.Subject.objects.create(slug="alpha", name="Again", kind=kind))

    def test_subject_slug_without_vs(self):
        kind = m.SubjectKind.objects.first()
        self.integrity_error(lambda: m.Subject.objects.create(slug="a-vs-b", name="AB", kind=kind))

    def test_claim_support_choice(self):
        claim = m.Claim.objects.first()
        self.integrity_error(lambda: m.Claim.objects.filter(pk=claim.pk).update(support="maybe"))

    def test_claim_status_choice(self):
        self.integrity_error(lambda: m.Claim.objects.update(status="secret"))

    def test_unique_claim_key_per_subject(self):
        claim = m.Claim.objects.first()
        self.integrity_error(
            lambda: m.Claim.objects.create(subject=claim.subject, dimension=claim.dimension, key=claim.key, cell="x")
        )

    def test_one_snippet_per_task_subject_language(self):
        snippet = m.Snippet.objects.first()
        self.integrity_error(
            lambda: m.Snippet.objects.create(
                task=snippet.task, subject=snippet.subject, language=snippet.language, code="x"
            )
        )

    def test_not_runnable_needs_reason(self):
        snippet = m.Snippet.objects.first()
        self.integrity_error(lambda: m.Snippet.objects.filter(pk=snippet.pk).update(runnable=False))

    def test_evidence_stance_choice_and_uniqueness(self):
        evidence = m.Evidence.objects.first()
        self.integrity_error(lambda: m.Evidence.objects.filter(pk=evidence.pk).update(stance="loves"))
        self.integrity_error(
            lambda: m.Evidence.objects.create(claim=evidence.claim, excerpt=evidence.excerpt, stance="supports")
        )

    def test_relation_not_to_itself(self):
        alpha = m.Subject.objects.get(slug="alpha")
        self.integrity_error(lambda: m.SubjectRelation.objects.create(subject=alpha, target=alpha, kind="extends"))

    def test_unique_excerpt_key_per_source(self):
        excerpt = m.Excerpt.objects.first()
        self.integrity_error(lambda: m.Excerpt.objects.create(source=excerpt.source, key=excerpt.key, text="x"))

    def test_published_queryset(self):
        assert set(m.Claim.objects.published().values_list("key", flat=True)) == {"widgets", "slow-start"}
        assert m.Claim.objects.visible(preview=True).count() == 4


@pytest.mark.usefixtures("sample_kb")
def test_absolute_urls():
    assert m.Subject.objects.get(slug="alpha").get_absolute_url() == "/subjects/alpha/"
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").get_absolute_url() == "/claims/alpha/widgets/"
    assert m.Source.objects.get().get_absolute_url() == "/sources/sample/"
    assert m.Dimension.objects.get(slug="startup").get_absolute_url() == "/dimensions/startup/"
    assert m.Task.objects.get().get_absolute_url() == "/snippets/hello/"
    assert m.Excerpt.objects.get(key="alpha-fast").get_absolute_url() == "/sources/sample/#excerpt-alpha-fast"


@pytest.mark.usefixtures("sample_kb")
@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "ftp://example.org/file"])
def test_only_web_links_even_past_the_forms(url):
    with pytest.raises(IntegrityError), transaction.atomic():
        m.Source.objects.update(url=url)
    with pytest.raises(IntegrityError), transaction.atomic():
        m.Subject.objects.update(homepage=url)
