"""The comparisons the home page and the sitemap feature: content (content/featured.yaml), never code.

A featured path naming a subject that does not exist (a typo, a subject since removed) is
skipped, logged, and reported by ``manage.py check --database default``; a former slug is
followed to the subject it names now. With no featured comparison in the content at all,
(or none of it usable) the first subjects of the most common kind are featured, whatever the domain.
"""

import logging

from django.core import checks
from django.db import DatabaseError
from django.db.models import Count
from django.urls import reverse

from kb.knowledge.models import FeaturedComparison, Subject, SubjectAlias, SubjectKind

logger = logging.getLogger(__name__)
MIN_SUBJECTS = 2


def _subjects_by_slug(slugs):
    """{slug: Subject} for current and former slugs among ``slugs`` (one query, two with a former slug)."""
    found = {subject.slug: subject for subject in Subject.objects.filter(slug__in=slugs)}
    missing = set(slugs) - set(found)
    if missing:
        for alias in SubjectAlias.objects.filter(slug__in=missing).select_related("subject"):
            found[alias.slug] = alias.subject
    return found


def resolve(featured):
    """(usable, problems): each FeaturedComparison with its subjects, and why the others were skipped."""
    featured = list(featured)
    found = _subjects_by_slug({slug for item in featured for slug in item.slugs})
    usable, problems = [], []
    for item in featured:
        unknown = [slug for slug in item.slugs if slug not in found]
        subjects = list(dict.fromkeys(found[slug] for slug in item.slugs if slug in found))
        if unknown:
            problems.append(f"featured comparison {item.path!r} names unknown subjects: {', '.join(unknown)}")
        elif len(subjects) < MIN_SUBJECTS:
            problems.append(f"featured comparison {item.path!r} names fewer than {MIN_SUBJECTS} subjects")
        else:
            usable.append((item, subjects))
    return usable, problems


def _entry(subjects, title="", note=""):
    return {
        "subjects": subjects,
        "title": title or " vs ".join(subject.name for subject in subjects),
        "note": note,
        "url": reverse("kb:compare", args=[[subject.slug for subject in subjects]]),
    }


def featured_comparisons():
    """Featured comparisons as dicts of ``subjects``, ``title``, ``note`` and ``url``, in content order."""
    featured = FeaturedComparison.objects.order_by("order", "path")
    usable, problems = resolve(featured)
    for problem in problems:
        logger.warning("Skipped %s.", problem)
    if usable:
        return [_entry(subjects, item.title, item.note) for item, subjects in usable]
    kind = (
        SubjectKind.objects.annotate(subject_count=Count("subjects"))
        .filter(subject_count__gte=MIN_SUBJECTS)
        .order_by("-subject_count", "order", "name")
        .first()
    )
    if kind is None:
        return []
    return [_entry(list(Subject.objects.filter(kind=kind).order_by("name")[:3]))]


def featured_order(slugs):
    """The order of the content's featured comparison with exactly these subjects, else ``slugs`` as given.

    For subjects ticked in a list (whose order is the page's, not the reader's): Flask and Django
    ticked give flask-vs-django when content/featured.yaml features that order.
    """
    usable, _ = resolve(FeaturedComparison.objects.order_by("order", "path"))
    for _item, subjects in usable:
        featured = [subject.slug for subject in subjects]
        if sorted(featured) == sorted(slugs):
            return featured
    return list(slugs)


@checks.register(checks.Tags.database)
def check_featured_comparisons(app_configs=None, databases=None, **kwargs):
    """``manage.py check --database default``: every featured comparison names subjects that exist."""
    if not databases:
        return []
    try:
        _usable, problems = resolve(FeaturedComparison.objects.order_by("order", "path"))
    except DatabaseError:  # not migrated yet (``migrate`` runs the database checks first)
        return []
    return [
        checks.Warning(f"The home page skips the {problem}.", hint="Fix content/featured.yaml.", id="kb.W002")
        for problem in problems
    ]
