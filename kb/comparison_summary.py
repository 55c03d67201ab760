"""The summary strip above a comparison table: what each subject covers, and where they differ most.

Counts use current claims only (an outdated claim never drives a badge) and the rows shown
(the filters applied). Pure Python over the table's rows: no query.
"""

from dataclasses import dataclass, field

from .models import Status, Support

# How much each support level provides, for "differ most": not-applicable and unknown say nothing.
SUPPORT_RANK = {Support.BUILT_IN: 3, Support.EXTENSION: 2, Support.PARTIAL: 1, Support.NOT_PROVIDED: 0}
MOST_DIFFERENT = 5


@dataclass
class SubjectSummary:
    subject: object
    covered: int = 0  # rows where it has a current claim
    counts: dict = field(default_factory=dict)  # support value -> current claims

    def count_list(self, labels):
        """[(support value, label, count)] in the legend's order, leaving out zeros."""
        return [(value, label, self.counts[value]) for value, label in labels.items() if self.counts.get(value)]


@dataclass
class Summary:
    subjects: list
    most_different: list  # rows, the widest spread of support first


def _current(cell):
    return [claim for claim in cell.claims if not claim.outdated and claim.status == Status.PUBLISHED]


def summarise(subjects, rows):
    by_subject = {subject.pk: SubjectSummary(subject) for subject in subjects}
    spreads = []
    for index, row in enumerate(rows):
        ranks = []
        for cell in row.cells:
            claims = _current(cell)
            summary = by_subject[cell.subject.pk]
            if claims:
                summary.covered += 1
            for claim in claims:
                if claim.support:
                    summary.counts[claim.support] = summary.counts.get(claim.support, 0) + 1
            cell_ranks = [SUPPORT_RANK[claim.support] for claim in claims if claim.support in SUPPORT_RANK]
            if cell_ranks:
                ranks.append(max(cell_ranks))
        if len(ranks) >= 2 and max(ranks) > min(ranks):
            spreads.append((-(max(ranks) - min(ranks)), index, row))
    spreads.sort(key=lambda item: item[:2])
    return Summary(list(by_subject.values()), [row for _spread, _index, row in spreads[:MOST_DIFFERENT]])
