"""How many dimensions each subject answers, and which comparisons have enough answered rows to suggest first.

A subject *answers* a dimension when it has a current (not outdated) published claim on it. A
comparison of two subjects has *enough* answered rows when both answer at least ``enough_shared``
of the same dimensions: ``ENOUGH_SHARED`` (25), or half the dimensions (rounded up) when fewer than
that exist. The README's readers' site section says the same. One query whatever the size.
"""

from dataclasses import dataclass

from django.db.models import BigIntegerField, FilteredRelation, Q, Value

from kb.knowledge.models import Claim, Dimension, Status

ENOUGH_SHARED = 25


def enough_shared(dimension_count):
    """The shared answered rows a comparison needs to be suggested first."""
    if dimension_count >= ENOUGH_SHARED:
        return ENOUGH_SHARED
    return (dimension_count + 1) // 2


@dataclass
class Suggestion:
    subjects: tuple
    shared: int  # dimensions every one of the subjects answers
    enough: bool


class Coverage:
    """The dimensions each subject answers, out of every dimension there is."""

    def __init__(self, pairs):
        self.answered = {}
        dimensions = set()
        for dimension_id, subject_id in pairs:
            dimensions.add(dimension_id)
            if subject_id is not None:
                self.answered.setdefault(subject_id, set()).add(dimension_id)
        self.dimension_count = len(dimensions)
        self.enough = enough_shared(self.dimension_count)

    @classmethod
    def load(cls, subjects=None):
        """One query: every dimension, with each subject that answers it (None when none does).

        ``subjects``: only these subjects' answers (their ids): a subject's page needs its own and its
        peers', read through the claims' subject index, not the whole knowledge base's.
        """
        if subjects is not None:
            every_dimension = Dimension.objects.order_by().annotate(nobody=Value(None, output_field=BigIntegerField()))
            answers = Claim.objects.filter(status=Status.PUBLISHED, outdated=False, subject_id__in=list(subjects))
            return cls(
                every_dimension.values_list("pk", "nobody").union(
                    answers.order_by().values_list("dimension_id", "subject_id")
                )
            )
        pairs = (
            Dimension.objects.annotate(
                answer=FilteredRelation("claims", condition=Q(claims__status=Status.PUBLISHED, claims__outdated=False))
            )
            .order_by()
            .values_list("pk", "answer__subject_id")
            .distinct()
        )
        return cls(pairs)

    def count(self, subject):
        return len(self.answered.get(subject.pk, ()))

    def shared(self, subjects):
        sets = [self.answered.get(subject.pk, set()) for subject in subjects]
        return len(set.intersection(*sets)) if sets else 0

    def suggest(self, subject, others):
        """Comparisons of ``subject`` with each of ``others``: enough answered rows first, then by rows shared.

        Ties keep the order of ``others``.
        """
        suggestions = []
        for other in others:
            shared = self.shared([subject, other])
            suggestions.append(Suggestion((subject, other), shared, shared >= self.enough))
        return sorted(suggestions, key=lambda item: (not item.enough, -item.shared))

    def suggest_pairs(self, subjects, limit):
        """The best ``limit`` pairs among subjects of the same kind: enough answered rows first."""
        suggestions = []
        for index, subject in enumerate(subjects):
            for other in subjects[index + 1 :]:
                if other.kind_id != subject.kind_id:
                    continue
                shared = self.shared([subject, other])
                if shared:
                    suggestions.append(Suggestion((subject, other), shared, shared >= self.enough))
        suggestions.sort(key=lambda item: (not item.enough, -item.shared))
        return suggestions[:limit]
