"""The read model of cells (kb.comparison.models.CellVersion) and the pinned comparisons it gives.

After any write, every stored cell equals the cell computed fresh from the database; a write
rewrites exactly the cells it changed; a pinned page never changes apart from its newer-version
notice; the changes view lists exactly the cells that differ. Checked by example, by a hypothesis
state machine of random edits, and by an exhaustive check of every short sequence of edits; the
last two are also run against a deliberately broken invalidation, which they must catch.
"""

import io
import itertools
import os
import re
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from kb.comparison import history, marks, markup, read_model
from kb.comparison.models import CellVersion, SubjectColumn, VersionStamp
from kb.comparison.snapshot import canonical, compute_cells, digest, readers_claims
from kb.editing import publishing
from kb.knowledge import models as m
from kb.knowledge.signals import Touched, bulk_write, content_changed
from tests.conftest import FIXTURES
from tests.test_admin import _evidence_form
from tests.test_compare_queries import make_kb

pytestmark = pytest.mark.django_db

SLUGS = ["alpha", "beta", "beta-widgets"]
PAGE = "/compare/alpha-vs-beta-vs-beta-widgets/"
NO_PAGE_CACHE = override_settings(KB_PAGE_CACHE_SECONDS=0)
NEWER_NOTICE = re.compile(r'<p class="cmp-pin-newer">.*?</p>', re.S)
TABLE = re.compile(r'<table class="cmp-table.*?</table>', re.S)


def get(client, url, **headers):
    with NO_PAGE_CACHE:
        return client.get(url, headers=headers)


def version():
    return m.ContentVersion.objects.state().key


def fresh_digests():
    """{dom id: digest} of every cell computed fresh from the database, independent of the read model."""
    return {
        f"{data['dimension']['slug']}--{data['subject']['slug']}": digest(canonical(data))
        for data in compute_cells(readers_claims()).values()
    }


def _save(obj, **fields):
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.full_clean()
    obj.save()


# By example -------------------------------------------------------------------------------


def test_loading_content_fills_the_model_and_it_matches_the_database(sample_kb):
    assert read_model.check() == []
    assert CellVersion.objects.current().count() == len(fresh_digests()) > 0


def test_a_write_rewrites_only_the_cells_it_changed(sample_kb):
    claim = m.Claim.objects.published().get(subject__slug="alpha", key="widgets")
    before = dict(CellVersion.objects.current().values_list("pk", "valid_from"))
    _save(claim, cell="Widgets, and more")
    assert read_model.last.cells == {(claim.subject_id, claim.dimension_id)}
    after = dict(CellVersion.objects.current().values_list("pk", "valid_from"))
    assert len(set(before) - set(after)) == 1 and len(set(after) - set(before)) == 1
    # A save that changes nothing a reader sees opens no record.
    _save(claim, reviewed=claim.reviewed)
    assert read_model.last.cells == set()
    assert read_model.check() == []


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda: _save(m.Source.objects.get(slug="sample"), title="Renamed"), id="source-title"),
        pytest.param(lambda: _save(m.Subject.objects.get(slug="alpha"), name="Alpha Prime"), id="subject-name"),
        pytest.param(lambda: _save(m.Excerpt.objects.get(key="alpha-fast"), text="Fast, it says."), id="excerpt"),
        pytest.param(
            lambda: publishing.set_status(m.Claim.objects.filter(subject__slug="beta"), m.Status.DRAFT), id="unpublish"
        ),
        pytest.param(lambda: m.Evidence.objects.filter(claim__subject__slug="alpha").delete(), id="bulk-delete"),
        pytest.param(lambda: m.Claim.objects.get(subject__slug="alpha", key="widgets").delete(), id="delete-claim"),
    ],
)
def test_every_writer_keeps_the_model_true(sample_kb, edit):
    edit()
    assert read_model.check() == []


def test_verification_runs_rewrite_the_cells_quoting_the_excerpts(sample_kb):
    excerpt = m.Excerpt.objects.get(key="alpha-fast")
    m.Excerpt.objects.filter(pk=excerpt.pk).update(verification=m.Verification.MISMATCH)
    content_changed(excerpts=[excerpt.pk])  # what kb.evidence.verification.record does
    assert read_model.last.cells == set(
        m.Claim.objects.published().filter(evidence__excerpt=excerpt).values_list("subject_id", "dimension_id")
    )
    assert read_model.check() == []


def test_a_failed_write_leaves_no_record(sample_kb):
    count = CellVersion.objects.count()
    with pytest.raises(RuntimeError), bulk_write():
        _save(m.Claim.objects.get(subject__slug="alpha", key="widgets"), cell="Never saved")
        raise RuntimeError
    assert CellVersion.objects.count() == count and read_model.check() == []


def test_one_admin_edit_of_one_claim_rewrites_only_its_cells(editor_client, django_assert_max_num_queries):
    slugs = make_kb(subjects=6, dimensions=40)
    claim = m.Claim.objects.published().filter(subject__slug=slugs[2]).order_by("pk")[5]
    data = _evidence_form(claim)
    data["cell"] = "An answer edited in the admin"
    count = CellVersion.objects.count()
    response = editor_client.post(f"/admin/kb/claim/{claim.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    # One cell rewritten: its record closed and one opened, of the 6 x 40 there are.
    assert read_model.last.cells == {(claim.subject_id, claim.dimension_id)}
    assert CellVersion.objects.count() == count + 1
    assert read_model.check() == []


def test_rebuild_mends_a_damaged_model_and_leaves_a_sound_one_alone(sample_kb):
    generation = m.ContentVersion.objects.state().generation
    assert read_model.rebuild().cells == set()
    assert m.ContentVersion.objects.state().generation == generation
    CellVersion.objects.current().filter(dimension_id=m.Dimension.objects.get(slug="widgets").pk).delete()
    assert read_model.check()
    assert read_model.rebuild().cells
    assert read_model.check() == []


def test_a_migrate_that_migrated_nothing_checks_nothing(sample_kb, django_assert_num_queries):
    CellVersion.objects.current().filter(dimension_id=m.Dimension.objects.get(slug="widgets").pk).delete()
    with django_assert_num_queries(0):  # make run and make serve migrate at every start
        read_model.rebuild_after_migrate(sender=None, using="default", plan=[])
    assert read_model.check()
    read_model.rebuild_after_migrate(sender=None, using="default", plan=[("kb", "0001_initial")])
    assert read_model.check() == []


def test_rebuild_cells_checks_once_and_rewrites_only_the_wrong_cells(sample_kb, monkeypatch):
    widgets = m.Dimension.objects.get(slug="widgets").pk
    CellVersion.objects.current().filter(dimension_id=widgets).delete()
    checks = []
    check = read_model.check
    monkeypatch.setattr(read_model, "check", lambda: checks.append(1) or check())
    call_command("rebuild_cells", stdout=io.StringIO())
    assert len(checks) == 1
    assert {dimension_id for _subject_id, dimension_id in read_model.last.cells} == {widgets}
    assert check() == []


# Pinned pages and Memento -------------------------------------------------------------------


def test_a_pinned_page_never_changes_but_says_when_there_is_a_newer_version(client, sample_kb):
    pinned_url = f"{PAGE}v/{version()}/"
    response = get(client, pinned_url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    before = response.content.decode()
    assert "There is a newer version" not in before

    _save(m.Claim.objects.get(subject__slug="alpha", key="widgets"), cell="Widgets, and more")
    after = get(client, pinned_url).content.decode()
    assert "There is a newer version" in after
    assert NEWER_NOTICE.sub("", after) == before
    assert "Widgets, and more" in get(client, PAGE).content.decode()
    changes = re.search(r'<a href="([^"]+/changes/[^"]+)">what changed', after).group(1).replace("&amp;", "&")
    changed = get(client, changes).content.decode()
    assert re.findall(r'<tr id="change-([^"]+)"', changed) == ["widgets--alpha"]


def test_a_version_that_is_not_a_change_redirects_to_the_one_in_force(client, sample_kb):
    first = version()
    _save(m.Subject.objects.get(slug="beta-widgets"), homepage="https://example.org/")  # no cell changes
    response = get(client, f"{PAGE}v/{version()}/")
    assert response.status_code == 302 and response["Location"] == f"{PAGE}v/{first}/"
    for bad in ("nope", "0123456789abcdef-1", first.split("-")[0] + "-999999"):
        response = get(client, f"{PAGE}v/{bad}/")
        assert response.status_code == 404 and b"not a version" in response.content


def test_memento_headers_timegate_and_timemap(client, sample_kb):
    first = version()
    first_page = get(client, f"{PAGE}v/{first}/")
    first_at = parsedate_to_datetime(first_page["Memento-Datetime"])
    links = first_page["Link"]
    assert f'<http://testserver{PAGE}>; rel="original"' in links
    assert f'<http://testserver{PAGE}timegate/>; rel="timegate"' in links
    assert f'<http://testserver{PAGE}timemap/>; rel="timemap"' in links
    assert f'<http://testserver{PAGE}v/{first}/>; rel="memento"; datetime="' in links
    assert 'rel="timegate"' in get(client, PAGE)["Link"]

    VersionStamp.objects.update(at=first_at.replace(year=2020))  # the first version, long ago
    _save(m.Claim.objects.get(subject__slug="beta", key="widgets"), cell="Beta widgets now")
    second = version()

    gate = get(client, f"{PAGE}timegate/", **{"Accept-Datetime": "Tue, 01 Jun 2021 00:00:00 GMT"})
    assert gate.status_code == 302 and gate["Location"] == f"{PAGE}v/{first}/"
    assert "accept-datetime" in gate["Vary"].lower() and 'rel="original"' in gate["Link"]
    now = get(client, f"{PAGE}timegate/", **{"Accept-Datetime": format_datetime(first_at.replace(year=2099), True)})
    assert now["Location"] == f"{PAGE}v/{second}/"
    assert get(client, f"{PAGE}timegate/")["Location"] == f"{PAGE}v/{second}/"
    bad = get(client, f"{PAGE}timegate/", **{"Accept-Datetime": "yesterday"})
    assert bad.status_code == 400 and b"HTTP date" in bad.content

    timemap = get(client, f"{PAGE}timemap/")
    assert timemap["Content-Type"].startswith("application/link-format")
    body = timemap.content.decode()
    assert f'<http://testserver{PAGE}v/{first}/>;rel="first memento";datetime="' in body
    assert f'<http://testserver{PAGE}v/{second}/>;rel="last memento"' in body
    assert 'rel="self";type="application/link-format"' in body


def test_each_filtered_view_has_its_feed_with_only_its_cells(client, sample_kb):
    _save(m.Claim.objects.get(subject__slug="alpha", key="widgets"), cell="Widgets, and more")
    _save(m.Claim.objects.get(subject__slug="alpha", key="slow-start"), cell="Slow, at first")
    feed = get(client, "/compare/alpha-vs-beta/feed/?q=widg").content.decode()
    ids = re.findall(r"<id>cell:[^<]*:([^<]+)</id>", feed)
    assert ids[0] == "widgets--alpha" and "startup--alpha" not in ids
    unfiltered = get(client, "/compare/alpha-vs-beta/feed/").content.decode()
    everything = re.findall(r"<id>cell:[^<]*:([^<]+)</id>", unfiltered)
    assert everything[:2] == ["startup--alpha", "widgets--alpha"]


def test_the_markup_key_follows_the_code_that_decides_icons_and_chips(monkeypatch):
    """A new icon or chip rule in Python, not only a template change, draws the stored cells again."""
    keyed = markup.markup_key()
    markup.markup_key.cache_clear()
    monkeypatch.setattr(markup, "CODE", (marks,))  # as if kb.comparison.cell read differently
    try:
        assert markup.markup_key() != keyed
    finally:
        markup.markup_key.cache_clear()


def test_the_history_redraws_cells_drawn_with_other_templates(sample_kb):
    _save(m.Claim.objects.get(subject__slug="alpha", key="widgets"), cell="Widgets, and more")
    CellVersion.objects.update(html="<p>old markup</p>", markup_key="old templates")
    subjects = list(m.Subject.objects.filter(slug__in=["alpha", "beta"]).order_by("slug"))
    past = history.History(subjects)
    generation = m.ContentVersion.objects.state().generation
    changes = past.changes(0, generation)
    assert changes and all("old markup" not in str(change.new.html) for change in changes)
    assert all(
        "old markup" not in str(cell.html) for row in past.table(generation).rows for cell in row.cells if cell.html
    )
    assert not CellVersion.objects.of_subjects([s.pk for s in subjects]).filter(markup_key="old templates").exists()


def test_a_feed_builds_each_version_s_table_once_and_none_without_filters(client, sample_kb, monkeypatch):
    _save(m.Claim.objects.get(subject__slug="alpha", key="widgets"), cell="Widgets, and more")
    _save(m.Claim.objects.get(subject__slug="alpha", key="slow-start"), cell="Slow, at first")
    built = []
    table = history.History.table
    monkeypatch.setattr(
        history.History, "table", lambda self, generation: built.append(generation) or table(self, generation)
    )
    assert get(client, "/compare/alpha-vs-beta/feed/").status_code == 200
    assert built == []
    assert get(client, "/compare/alpha-vs-beta/feed/?q=widg").status_code == 200
    assert built and len(built) == len(set(built))


# Random sequences of edits: a state machine, and every short sequence --------------------------

EXAMPLES = int(os.environ.get("KB_READMODEL_EXAMPLES", "4"))
STEPS = int(os.environ.get("KB_READMODEL_STEPS", "5"))


def _nth(queryset, index):
    items = list(queryset.order_by("pk"))
    return items[index % len(items)]


def edit_claim(index, text):
    _save(_nth(m.Claim.objects.all(), index), cell=text)


def change_support(index, support):
    _save(_nth(m.Claim.objects.all(), index), support=support)


def toggle_outdated(index):
    claim = _nth(m.Claim.objects.all(), index)
    if claim.outdated:
        _save(claim, outdated=False, outdated_since="", superseded_by=None)
    else:
        _save(claim, outdated=True, outdated_since="v2")


def edit_excerpt(index, text):
    _save(_nth(m.Excerpt.objects.all(), index), text=text)


def change_stance(index, stance):
    _save(_nth(m.Evidence.objects.all(), index), stance=stance)


def remove_evidence(index):
    evidence = _nth(m.Evidence.objects.all(), index)
    if m.Evidence.objects.filter(claim=evidence.claim_id).count() > 1:
        evidence.delete()


def rename_source(title):
    _save(m.Source.objects.order_by("pk").first(), title=title)


def rename_subject(slug, name):
    _save(m.Subject.objects.get(slug=slug), name=name)


def verify(index, state):
    """A verification run (kb.evidence.verification.record): a bulk update, then the excerpts it changed."""
    excerpt = _nth(m.Excerpt.objects.all(), index)
    m.Excerpt.objects.filter(pk=excerpt.pk).update(verification=state)
    content_changed(excerpts=[excerpt.pk])


def toggle_published(index):
    claim = _nth(m.Claim.objects.all(), index)
    status = m.Status.DRAFT if claim.status == m.Status.PUBLISHED else m.Status.PUBLISHED
    publishing.set_status(m.Claim.objects.filter(pk=claim.pk), status)


class Observer:
    """What the invariants compare: each step's version, its fresh cells, and its pinned page as first seen."""

    def __init__(self):
        self.client = Client()
        self.steps = []  # [(version, {dom id: digest}, pinned url, html without the notice)]

    def check(self):
        # 1. Every stored cell equals the cell computed fresh from the database.
        assert read_model.check() == [], "a stored cell differs from the database"
        # 2. Every pinned page of earlier steps renders as it did, apart from the newer-version notice.
        for _version, _cells, url, html in self.steps:
            assert NEWER_NOTICE.sub("", get(self.client, url).content.decode()) == html, f"{url} changed"
        # 3. The changes view between each earlier step and now lists exactly the cells that differ.
        now, cells = version(), fresh_digests()
        for old, old_cells, _url, _html in self.steps:
            expected = {key for key in set(old_cells) | set(cells) if old_cells.get(key) != cells.get(key)}
            listed = get(self.client, f"{PAGE}changes/?from={old}&to={now}").content.decode()
            assert set(re.findall(r'<tr id="change-([^"]+)"', listed)) == expected, f"changes from {old} to {now}"
        response = get(self.client, f"{PAGE}v/{now}/")
        if response.status_code == 302:
            response = get(self.client, response["Location"])
        assert response.status_code == 200
        # 4. The live page (columns this process keeps) shows the same table as the version pinned now.
        live = TABLE.search(get(self.client, PAGE).content.decode()).group(0)
        assert live == TABLE.search(response.content.decode()).group(0), "the live table differs from its version"
        self.steps.append((now, cells, response.wsgi_request.path, NEWER_NOTICE.sub("", response.content.decode())))


def load_sample():
    from django.core.management import call_command

    call_command("load_content", str(FIXTURES / "content"), verbosity=0)


TEXTS = st.sampled_from(["Yes", "No", "Only with an extension"])


class ReadModelMachine(RuleBasedStateMachine):
    """Edits through the real writers in random order; after each, the three invariants of Observer.check."""

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.observer = Observer()

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    @initialize()
    def load(self):
        load_sample()

    @rule(index=st.integers(0, 20), text=TEXTS)
    def edit_claim(self, index, text):
        edit_claim(index, text)

    @rule(index=st.integers(0, 20), support=st.sampled_from(m.Support.values))
    def change_support(self, index, support):
        change_support(index, support)

    @rule(index=st.integers(0, 20))
    def toggle_outdated(self, index):
        toggle_outdated(index)

    @rule(index=st.integers(0, 20), text=st.sampled_from(["Quoted words.", "Other quoted words."]))
    def edit_excerpt(self, index, text):
        edit_excerpt(index, text)

    @rule(index=st.integers(0, 20), stance=st.sampled_from(m.Stance.values))
    def change_stance(self, index, stance):
        change_stance(index, stance)

    @rule(index=st.integers(0, 20))
    def remove_evidence(self, index):
        remove_evidence(index)

    @rule(title=st.sampled_from(["A source", "Another title"]))
    def rename_source(self, title):
        rename_source(title)

    @rule(slug=st.sampled_from(SLUGS), name=st.sampled_from(["First", "Second"]))
    def rename_subject(self, slug, name):
        rename_subject(slug, name)

    @rule(index=st.integers(0, 20), state=st.sampled_from(m.Verification.values))
    def verify(self, index, state):
        verify(index, state)

    @rule(index=st.integers(0, 20))
    def toggle_published(self, index):
        toggle_published(index)

    @invariant()
    def pages_and_cells_hold(self):
        self.observer.check()


def run_machine(**options):
    run_state_machine_as_test(
        ReadModelMachine,
        settings=settings(
            **options,
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=os.environ.get("KB_READMODEL_RANDOM") != "1",
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


CELLS_TOUCHED = read_model.cells_touched
COLUMNS_CHANGED = read_model._columns_changed


def broken_invalidation(touched):
    """A deliberately broken invalidation: the cells of the claims a write saves (and every cell for a load), but
    not those of the evidence, excerpts, sources or subjects it touched."""
    return CELLS_TOUCHED(Touched(cells=touched.cells, everything=touched.everything))


def broken_columns(subject_ids, version):
    """A deliberately broken column bookkeeping: written by the first load only, never after."""
    if not SubjectColumn.objects.exists():
        COLUMNS_CHANGED(subject_ids, version)


def test_random_edits_keep_cells_pins_and_changes_true():
    run_machine()


@pytest.mark.parametrize(
    ("name", "broken"), [("cells_touched", broken_invalidation), ("_columns_changed", broken_columns)]
)
def test_the_machine_catches_a_broken_invalidation(monkeypatch, name, broken):
    monkeypatch.setattr(read_model, name, broken)
    with pytest.raises(AssertionError, match="stored cell differs"):
        run_machine(phases=[Phase.generate])  # no shrinking: that it fails is all this needs


# Every sequence of up to LENGTH edits of ten kinds, depth first, each prefix rolled back to a savepoint.

OPERATIONS = {
    "edit-claim": lambda: edit_claim(0, "Changed"),
    "excerpt": lambda: edit_excerpt(0, "New words."),
    "source": lambda: rename_source("Another title"),
    "outdated": lambda: toggle_outdated(0),
    "verify": lambda: verify(1, m.Verification.MISMATCH),
    "support": lambda: change_support(0, m.Support.PARTIAL),
    "stance": lambda: change_stance(0, m.Stance.CONTRADICTS),
    "remove-evidence": lambda: remove_evidence(0),
    "subject": lambda: rename_subject(SLUGS[0], "Renamed"),
    "publish": lambda: toggle_published(0),
}
LENGTH = int(os.environ.get("KB_READMODEL_LENGTH", "2"))


def explore(observer, depth, path, seen):
    observer.check()
    seen.append(tuple(path))
    if depth == LENGTH:
        return
    for name, operation in OPERATIONS.items():
        savepoint = transaction.savepoint()
        steps = list(observer.steps)
        operation()
        explore(observer, depth + 1, [*path, name], seen)
        observer.steps = steps
        transaction.savepoint_rollback(savepoint)


def run_every_sequence():
    load_sample()
    seen = []
    with transaction.atomic():
        explore(Observer(), 0, [], seen)
    return seen


def test_every_short_sequence_of_edits_keeps_cells_pins_and_changes_true():
    seen = run_every_sequence()
    expected = sum(len(OPERATIONS) ** length for length in range(LENGTH + 1))
    assert len(seen) == expected == len(set(seen))
    assert set(itertools.product(OPERATIONS, repeat=LENGTH)) <= set(seen)


@pytest.mark.parametrize(
    ("name", "broken"), [("cells_touched", broken_invalidation), ("_columns_changed", broken_columns)]
)
def test_the_exhaustive_check_catches_a_broken_invalidation(monkeypatch, name, broken):
    monkeypatch.setattr(read_model, name, broken)
    with pytest.raises(AssertionError, match="stored cell differs"):
        run_every_sequence()
