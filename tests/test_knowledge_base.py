"""The real knowledge base in content/: evidence for every claim, a claim for every excerpt."""

import pytest
from django.db.models import Count, F, Q

from kb.comparison.cell import is_contested
from kb.knowledge import models as m

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("real_content")]


def test_every_published_claim_has_an_excerpt():
    bare = m.Claim.objects.published().annotate(n=Count("evidence")).filter(n=0)
    assert [str(claim) for claim in bare] == []


def test_every_excerpt_belongs_to_a_claim_or_is_a_snippets_origin():
    orphans = m.Excerpt.objects.annotate(n=Count("evidence")).filter(n=0, snippets=None)
    assert [excerpt.ref for excerpt in orphans] == []


def test_every_source_names_its_archived_text():
    assert list(m.Source.objects.filter(archive="").values_list("slug", flat=True)) == []


def test_articles_carry_no_invented_links():
    # The article captures carry no URLs. A link appears only when the source's notes say how it was
    # established (checked against the capture's opening lines); an article without one says so.
    articles = m.Source.objects.filter(kind=m.SourceKind.ARTICLE)
    assert articles.exists()
    undocumented = [
        (source.slug, source.url)
        for source in articles.exclude(url="")
        if not source.url.startswith("https://") or "checked against the capture's opening lines" not in source.notes
    ]
    assert undocumented == []
    silent = [source.slug for source in articles.filter(url="") if "No public address" not in source.notes]
    assert silent == []


def test_the_two_known_article_addresses_are_recorded():
    urls = dict(m.Source.objects.filter(slug__in=["jelvix", "inspector"]).values_list("slug", "url"))
    assert urls == {
        "jelvix": "https://jelvix.com/blog/django-vs-flask",
        "inspector": "https://inspector.dev/python-flask-vs-django/",
    }


def test_every_documentation_source_has_a_url_and_a_licence():
    docs = m.Source.objects.filter(kind=m.SourceKind.DOCUMENTATION)
    assert list(docs.filter(Q(url="") | Q(licence="")).values_list("slug", flat=True)) == []
    assert all(url.startswith("https://") for url in docs.values_list("url", flat=True))


def test_the_frameworks_own_documentation_is_quoted():
    docs = m.Source.objects.filter(kind=m.SourceKind.DOCUMENTATION)
    assert docs.count() >= 10
    assert m.Excerpt.objects.filter(source__kind=m.SourceKind.DOCUMENTATION).count() >= 30


def test_every_source_carries_its_capture_fingerprint():
    missing = m.Source.objects.filter(Q(capture_sha256="") | Q(capture_characters=None) | Q(captured=None))
    assert list(missing.values_list("slug", flat=True)) == []


def test_every_claim_has_been_reviewed():
    assert list(m.Claim.objects.filter(reviewed=None).values_list("subject__slug", "key")) == []


def test_every_outdated_claim_says_since_when_and_has_a_current_successor():
    outdated = m.Claim.objects.filter(outdated=True).select_related("superseded_by")
    assert outdated.exists(), "no outdated claim: the 2019 statements superseded since are not marked"
    for claim in outdated:
        assert claim.outdated_since, claim
        successor = claim.superseded_by
        assert successor is not None, claim
        assert not successor.outdated and successor.is_published, (claim, successor)
        assert successor.dimension_id == claim.dimension_id and successor.subject_id == claim.subject_id


def overstated(claims):
    """Claims that show a support level stronger than their sources state.

    The rule: a claim whose every piece of evidence is ``qualifies`` (no excerpt states it,
    every excerpt only limits it) may carry no support level, or ``partial`` or ``unknown``;
    never ``built-in``, ``extension``, ``not-provided`` or ``not-applicable``, which each
    assert something no source says.
    """
    allowed = ["", m.Support.PARTIAL, m.Support.UNKNOWN]
    return (
        claims.annotate(
            n=Count("evidence"), qualifying=Count("evidence", filter=Q(evidence__stance=m.Stance.QUALIFIES))
        )
        .filter(n__gt=0, n=F("qualifying"))
        .exclude(support__in=allowed)
    )


def test_no_published_claim_is_stronger_than_its_sources():
    assert [str(claim) for claim in overstated(m.Claim.objects.published().current())] == []


def test_the_overstatement_rule_catches_a_claim_backed_only_by_qualifications():
    claim = m.Claim.objects.published().current().filter(support=m.Support.BUILT_IN).first()
    assert not overstated(m.Claim.objects.filter(pk=claim.pk)).exists()
    claim.evidence.update(stance=m.Stance.QUALIFIES)
    assert list(overstated(m.Claim.objects.filter(pk=claim.pk))) == [claim]
    claim.support = m.Support.PARTIAL
    claim.save()
    assert not overstated(m.Claim.objects.filter(pk=claim.pk)).exists()


def test_disagreement_is_kept_not_averaged():
    contradicted = m.Evidence.objects.filter(stance=m.Stance.CONTRADICTS, claim__status=m.Status.PUBLISHED)
    assert contradicted.exists(), "no contested cell: disagreements between sources must be kept"


def contested_rule_violations(claims):
    """Contradictions that are not a disagreement on the cell's answer (README: "What makes a cell Contested").

    A cell is Contested when its sources disagree on its answer, so a quote may contradict a claim only
    when it gives another answer, stated as another current published claim of the same cell that the
    quote supports; on a dimension with support levels that answer carries a different support level
    (a quote that gets a detail wrong but agrees on the level qualifies, with the correction in the body
    or the editor's note); and the quote comes from another source than those that state the claim (one
    article's two sentences that can both be true qualify each other).
    """
    cells = {}
    for claim in claims.published().current().prefetch_related("evidence__excerpt"):
        cells.setdefault((claim.subject_id, claim.dimension_id), []).append(claim)
    problems = []
    for cell in cells.values():
        for claim in cell:
            own_sources = {e.excerpt.source_id for e in claim.evidence.all() if e.stance == m.Stance.SUPPORTS}
            for evidence in claim.evidence.all():
                if evidence.stance != m.Stance.CONTRADICTS:
                    continue
                answers = [
                    other
                    for other in cell
                    if other.pk != claim.pk
                    and any(
                        e.excerpt_id == evidence.excerpt_id and e.stance == m.Stance.SUPPORTS
                        for e in other.evidence.all()
                    )
                    and (not claim.support or other.support != claim.support)
                ]
                if not answers:
                    problems.append(f"{evidence.excerpt.ref} contradicts {claim} but states no other answer")
                elif evidence.excerpt.source_id in own_sources:
                    problems.append(f"{evidence.excerpt.ref} contradicts {claim}, which its own source states")
    return problems


def test_contested_means_the_sources_disagree_on_the_answer():
    assert contested_rule_violations(m.Claim.objects) == []


def test_the_contested_rule_catches_a_contradiction_of_a_detail():
    # Planted: the DEV article calls Django's admin "a desktop application" but agrees it is built in.
    claim = m.Claim.objects.get(subject__slug="django", key="built-in-admin")
    evidence = claim.evidence.get(excerpt__source__slug="dev-community", excerpt__key="django-admin")
    assert evidence.stance == m.Stance.QUALIFIES
    cell = m.Claim.objects.filter(subject=claim.subject, dimension=claim.dimension)
    assert not is_contested(list(cell.prefetch_related("evidence")), lambda c: c.evidence.all())
    evidence.stance = m.Stance.CONTRADICTS
    evidence.save()
    assert contested_rule_violations(m.Claim.objects) == [
        "dev-community/django-admin contradicts Django · Admin interface: "
        "Full admin interface generated from the models, out of the box but states no other answer"
    ]
    assert is_contested(list(cell.prefetch_related("evidence")), lambda c: c.evidence.all())  # the mark it would set


def test_the_contested_rule_catches_one_source_contradicting_itself():
    # Planted: Jelvix's two sentences on Pyramid (used by professionals; aimed at a broad audience) can both be true.
    professionals = m.Claim.objects.get(subject__slug="pyramid", key="for-professionals")
    professionals.evidence.filter(excerpt__key="pyramid-broad-audience").update(stance=m.Stance.CONTRADICTS)
    problems = contested_rule_violations(m.Claim.objects)
    assert problems == [
        "jelvix/pyramid-broad-audience contradicts Pyramid · Learning curve: Used by professional programmers, "
        "which its own source states"
    ]


def test_disagreements_on_the_answer_stay_contested():
    # Sources that really disagree keep the mark: Flask's docs deny Soshace's reading of "micro".
    for subject, dimension in [("flask", "philosophy"), ("flask", "scalability"), ("django", "community")]:
        cell = m.Claim.objects.filter(subject__slug=subject, dimension__slug=dimension).published().current()
        assert is_contested(list(cell.prefetch_related("evidence")), lambda c: c.evidence.all()), (subject, dimension)
    for subject, dimension in [("django", "admin"), ("pyramid", "learning-curve"), ("flask", "xss")]:
        cell = m.Claim.objects.filter(subject__slug=subject, dimension__slug=dimension).published().current()
        assert not is_contested(list(cell.prefetch_related("evidence")), lambda c: c.evidence.all()), (
            subject,
            dimension,
        )


def test_no_current_claim_calls_itself_outdated():
    # quixote/python-2-4's note began "Outdated." while the claim drove its cell; outdated is a field, not a word.
    def violations():
        return list(
            m.Claim.objects.current()
            .filter(Q(editor_note__istartswith="outdated") | Q(body__istartswith="outdated"))
            .values_list("subject__slug", "key")
        )

    assert violations() == []
    m.Claim.objects.filter(subject__slug="quixote", key="python-2-4").update(editor_note="Outdated. Planted.")
    assert violations() == [("quixote", "python-2-4")]


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
        if task.slug in ("hello-world", "routing", "json-api", "render-template"):
            assert {"flask", "django", *DOCUMENTED_FRAMEWORKS} <= programs, task


def test_every_runnable_program_has_a_check_and_a_recorded_passing_run_on_its_subjects_runner():
    programs = m.Snippet.objects.filter(runnable=True, language=m.Language.PYTHON, path="")
    assert (
        list(programs.filter(Q(check_code="") | Q(check_summary="")).values_list("task__slug", "subject__slug")) == []
    )
    assert set(programs.values_list("run_outcome", flat=True)) == {m.RunOutcome.PASSED}
    runners = set(m.SubjectRunner.objects.values_list("subject__slug", "language"))
    assert {(s.subject.slug, s.language) for s in programs.select_related("subject")} <= runners


# Issue 22: the frameworks beyond Flask and Django answer the rows from their own documentation.
DOCUMENTED_FRAMEWORKS = ("fastapi", "bottle", "pyramid", "tornado")
OWN_DOCUMENTATION_MINIMUM = 25  # dimensions answered, of the 45


def dimensions_stated_by_own_documentation(subject):
    """Dimensions with a current published claim about ``subject`` that a quote of its own documentation supports."""
    claims = (
        m.Claim.objects.published()
        .current()
        .filter(subject=subject, evidence__stance=m.Stance.SUPPORTS, evidence__excerpt__source__documents=subject)
    )
    return set(claims.values_list("dimension__slug", flat=True))


@pytest.mark.parametrize("slug", DOCUMENTED_FRAMEWORKS)
def test_each_framework_answers_25_dimensions_from_its_own_documentation(slug):
    subject = m.Subject.objects.get(slug=slug)
    answered = dimensions_stated_by_own_documentation(subject)
    assert len(answered) >= OWN_DOCUMENTATION_MINIMUM, (slug, len(answered), sorted(answered))


def test_own_documentation_is_known_from_the_content_not_from_names():
    """A source counts as a subject's own documentation only when its content says so (``documents``)."""
    pyramid, tornado = m.Subject.objects.get(slug="pyramid"), m.Subject.objects.get(slug="tornado")
    assert m.Source.objects.filter(documents=pyramid, kind=m.SourceKind.DOCUMENTATION).count() >= 10
    before = len(dimensions_stated_by_own_documentation(pyramid))
    m.Source.objects.filter(documents=pyramid).update(documents=tornado)  # planted: the docs said to be Tornado's
    assert before >= OWN_DOCUMENTATION_MINIMUM and dimensions_stated_by_own_documentation(pyramid) == set()


# Every quote of the frameworks' documentation is checked against its capture by `make test` itself:
# `verify_content --require-verified` (the Makefile's verify step) with the archive beside the checkout.


def test_snippets_say_what_the_source_printed_or_that_it_printed_nothing():
    derived = m.Snippet.objects.filter(~Q(derived_from=None))
    assert derived.exists()
    assert list(derived.filter(source_note="").values_list("task__slug", "subject__slug")) == []


def test_flask_concurrency_is_backed_by_the_flask_documentation():
    current = m.Claim.objects.published().current().filter(subject__slug="flask", dimension__slug="concurrency")
    assert current.exists()
    for claim in current:
        assert claim.applies_to, claim
        assert claim.evidence.filter(
            stance=m.Stance.SUPPORTS, excerpt__source__kind=m.SourceKind.DOCUMENTATION
        ).exists(), claim


def test_pages_say_plainly_when_an_article_has_no_public_address(client):
    soshace = client.get("/sources/soshace/").content.decode()
    assert "No public address: none is known for this article" in soshace
    jelvix = client.get("/sources/jelvix/").content.decode()
    assert '<a href="https://jelvix.com/blog/django-vs-flask" rel="external noopener">' in jelvix
    table = client.get("/compare/flask-vs-django/").content.decode()
    assert "(no public address)</span>" in table  # the chip of an article without an address
    claim = client.get("/claims/flask/microframework/").content.decode()
    assert "No public address." in claim
