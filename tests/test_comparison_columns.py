"""Kept columns (kb.comparison.columns): a comparison page never shows content it was not built from.

The pages here render with the page cache off, so every request really draws its table; the
columns are what is kept. The state machine at the end plays random edits and page views and
checks each page against the same page built from the database with nothing kept; it is also
run once against a deliberately broken store (a key that ignores the content generation), to
show that it catches a stale column.
"""

import os

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from kb.comparison import columns as comparison_columns
from kb.comparison.columns import recent
from kb.knowledge import models as m

pytestmark = pytest.mark.django_db

PAGE = "/compare/alpha-vs-beta/"
NO_PAGE_CACHE = override_settings(KB_PAGE_CACHE_SECONDS=0)


def page(client, url=PAGE):
    with NO_PAGE_CACHE:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def fresh_page(client, url=PAGE):
    """The page built from the database, nothing kept."""
    recent.clear()
    with override_settings(KB_COLUMNS_IN_MEMORY=0):
        html = page(client, url)
    recent.clear()
    return html


def published_claim(subject="alpha"):
    return m.Claim.objects.published().current().filter(subject__slug=subject).order_by("pk").first()


def test_a_kept_column_serves_the_same_page(client, sample_kb, django_assert_num_queries):
    first = page(client)
    assert recent.values  # the columns were kept
    with django_assert_num_queries(1):  # the content generation: the subjects and the table are kept
        second = page(client)
    assert first == second == fresh_page(client)


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda: _save(published_claim(), cell="A new answer"), id="claim"),
        pytest.param(lambda: _save(m.Excerpt.objects.order_by("pk").first(), text="Newly quoted words."), id="excerpt"),
        pytest.param(lambda: _save(m.Source.objects.order_by("pk").first(), title="A renamed source"), id="source"),
        pytest.param(lambda: _save(m.Subject.objects.get(slug="beta"), name="Beta Prime"), id="subject"),
        pytest.param(lambda: _save(published_claim(), status=m.Status.DRAFT), id="unpublished"),
        pytest.param(lambda: m.Evidence.objects.order_by("pk").first().delete(), id="evidence"),
    ],
)
def test_every_content_change_shows_at_once(client, sample_kb, edit):
    before = page(client)
    edit()
    after = page(client)
    assert after != before
    assert after == fresh_page(client)


def _save(obj, **fields):
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.save()


def test_drafts_never_reach_kept_columns(admin_client, sample_kb):
    draft = m.Claim.objects.filter(subject__slug__in=["alpha", "beta"]).exclude(status=m.Status.PUBLISHED).first()
    with NO_PAGE_CACHE:
        preview = admin_client.get(PAGE + "?preview=1").content.decode()
        readers = admin_client.get(PAGE).content.decode()
    assert draft.cell in preview
    assert draft.cell not in readers


def test_memory_keeps_only_the_most_recent_columns(client, sample_kb):
    with override_settings(KB_COLUMNS_IN_MEMORY=2):
        page(client)
        assert len(recent.values) == 2  # the dimensions and one of the two columns
        assert fresh_page(client) == page(client)  # a column pushed out is simply built again


@override_settings(KB_COLUMN_CACHE="default")
def test_a_shared_cache_serves_other_processes(client, sample_kb, django_assert_num_queries):
    first = page(client)
    recent.clear()  # another process: nothing in its memory, the columns in the shared cache
    with django_assert_num_queries(1):
        assert page(client) == first


# Random sequences ------------------------------------------------------------------------

EXAMPLES = int(os.environ.get("KB_COLUMNS_EXAMPLES", "15"))
SUBJECT_SLUGS = ["alpha", "beta", "beta-widgets"]
EVERY_SUBJECT = "/compare/" + "-vs-".join(SUBJECT_SLUGS) + "/"


class ColumnsMachine(RuleBasedStateMachine):
    """Edits through the models (as the admin makes them), then pages: each must equal a fresh build."""

    def __init__(self):
        super().__init__()
        from django.test import Client

        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.client = Client()
        recent.clear()

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        recent.clear()

    @initialize()
    def load(self):
        from django.core.management import call_command

        from tests.conftest import FIXTURES

        call_command("load_content", str(FIXTURES / "content"), verbosity=0)

    def check(self, url):
        kept = page(self.client, url)
        assert kept == fresh_page(self.client, url), f"{url} differs from a fresh build"
        page(self.client, url)  # keep this generation's columns again, for the next edit to outdate

    @rule(subjects=st.lists(st.sampled_from(SUBJECT_SLUGS), min_size=2, max_size=3, unique=True))
    def view(self, subjects):
        """Some of the subjects: their columns are kept, the others' are not."""
        self.check("/compare/" + "-vs-".join(subjects) + "/")

    @rule(index=st.integers(0, 20), text=st.sampled_from(["Yes", "No", "Only with an extension"]))
    def edit_claim(self, index, text):
        claims = list(m.Claim.objects.order_by("pk"))
        _save(claims[index % len(claims)], cell=text)

    @rule(index=st.integers(0, 20), support=st.sampled_from([value for value, _ in m.Support.choices]))
    def change_support(self, index, support):
        claims = list(m.Claim.objects.order_by("pk"))
        _save(claims[index % len(claims)], support=support)

    @rule(index=st.integers(0, 20))
    def toggle_outdated(self, index):
        claims = list(m.Claim.objects.order_by("pk"))
        claim = claims[index % len(claims)]
        _save(claim, outdated=not claim.outdated)

    @rule(index=st.integers(0, 20), text=st.sampled_from(["Quoted words.", "Other quoted words."]))
    def edit_excerpt(self, index, text):
        excerpts = list(m.Excerpt.objects.order_by("pk"))
        _save(excerpts[index % len(excerpts)], text=text)

    @rule(title=st.sampled_from(["A source", "Another title"]))
    def rename_source(self, title):
        _save(m.Source.objects.order_by("pk").first(), title=title)

    @rule(slug=st.sampled_from(SUBJECT_SLUGS), name=st.sampled_from(["First", "Second"]))
    def rename_subject(self, slug, name):
        _save(m.Subject.objects.get(slug=slug), name=name)

    @invariant()
    def every_column_matches_a_fresh_build(self):
        self.check(EVERY_SUBJECT)

    @invariant()
    def memory_is_bounded(self):
        from django.conf import settings as django_settings

        assert len(recent.values) <= django_settings.KB_COLUMNS_IN_MEMORY


def run_machine(**options):
    run_state_machine_as_test(
        ColumnsMachine,
        settings=settings(
            **options,
            max_examples=EXAMPLES,
            stateful_step_count=10,
            deadline=None,
            database=None,
            derandomize=os.environ.get("KB_COLUMNS_RANDOM") != "1",
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


def test_pages_always_match_a_fresh_build():
    run_machine()


def test_the_machine_catches_a_stale_column(monkeypatch):
    """The same machine against a store whose keys ignore the content generation: it must fail."""
    monkeypatch.setattr(comparison_columns, "content_version", lambda request: (0, None))
    with pytest.raises(AssertionError, match="differs from a fresh build"):
        run_machine(phases=[Phase.generate])  # no shrinking: that it fails is all this needs
