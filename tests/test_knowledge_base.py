"""The real knowledge base in content/: evidence for every claim, a claim for every excerpt."""

import pytest
from django.db.models import Count, Q

from kb import models as m

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("real_content")]


def test_every_published_claim_has_an_excerpt():
    bare = m.Claim.objects.published().annotate(n=Count("evidence")).filter(n=0)
    assert [str(claim) for claim in bare] == []


def test_every_excerpt_belongs_to_a_claim():
    orphans = m.Excerpt.objects.annotate(n=Count("evidence")).filter(n=0)
    assert [excerpt.ref for excerpt in orphans] == []


def test_every_source_names_its_archived_text():
    assert list(m.Source.objects.filter(archive="").values_list("slug", flat=True)) == []


def test_sources_carry_no_invented_links():
    # The captures carry no URLs; a link appears only when an editor adds a real one.
    assert list(m.Source.objects.exclude(url="").values_list("slug", "url")) == []


def test_disagreement_is_kept_not_averaged():
    contradicted = m.Evidence.objects.filter(stance=m.Stance.CONTRADICTS, claim__status=m.Status.PUBLISHED)
    assert contradicted.exists(), "no contested cell: disagreements between sources must be kept"


def test_comments_are_attributed_to_their_commenter():
    assert m.Excerpt.objects.exclude(speaker="").exists()


def test_editor_notes_are_not_quotations():
    for claim in m.Claim.objects.exclude(editor_note=""):
        note = claim.editor_note.strip()
        assert not (note.startswith(('"', "“")) and note.endswith(('"', "”"))), claim


def test_every_subject_has_a_summary_and_every_dimension_a_description():
    assert list(m.Subject.objects.filter(summary="").values_list("slug", flat=True)) == []
    assert list(m.Dimension.objects.filter(description="").values_list("slug", flat=True)) == []


def test_every_task_has_a_runnable_program_per_compared_framework():
    for task in m.Task.objects.prefetch_related("snippets__subject"):
        programs = {s.subject.slug for s in task.snippets.all() if s.language == m.Language.PYTHON}
        assert len(programs) >= 2, task


def test_snippets_say_what_the_source_printed_or_that_it_printed_nothing():
    derived = m.Snippet.objects.filter(~Q(derived_from=None))
    assert derived.exists()
    assert list(derived.filter(source_note="").values_list("task__slug", "subject__slug")) == []
