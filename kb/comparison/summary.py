"""The summary strip above a comparison table: what each subject covers, and where they differ most.

Counts use current published claims only (an outdated claim never drives a badge) and the rows
shown (the filters applied). Pure Python over the facts each cell keeps (kb.comparison.table.Cell): no query.
"""

from dataclasses import dataclass, field

MOST_DIFFERENT = 5


@dataclass
class SubjectSummary:
    subject: object
    covered: int = 0  # rows shown where it has a current claim
    answered: int = 0  # rows of the whole table (filters aside) where it has a current claim
    counts: dict = field(default_factory=dict)  # support value -> current claims

    def count_list(self, labels):
        """[(support value, label, count)] in the legend's order, leaving out zeros."""
        return [(value, label, self.counts[value]) for value, label in labels.items() if self.counts.get(value)]


@dataclass
class Summary:
    subjects: list
    most_different: list  # rows, the widest spread of support first


def summarise(subjects, rows, all_rows=()):
    """``rows`` are the rows shown; ``all_rows`` every row of the table, for the dimensions each subject answers.

    Filters keep rows or leave them out, in order: when as many rows are shown as there are, the rows shown are
    every row and one pass counts both.
    """
    by_subject = {subject.pk: SubjectSummary(subject) for subject in subjects}
    summaries = list(by_subject.values())
    spreads = []
    for index, row in enumerate(rows):
        ranks = []
        for summary, cell in zip(summaries, row.cells, strict=True):
            supports = cell.published_supports
            if supports is None:
                continue
            summary.covered += 1
            counts = summary.counts
            for support in supports:
                if support:
                    counts[support] = counts.get(support, 0) + 1
            if cell.summary_rank is not None:
                ranks.append(cell.summary_rank)
        if len(ranks) >= 2 and max(ranks) > min(ranks):
            spreads.append((-(max(ranks) - min(ranks)), index, row))
    if len(rows) == len(all_rows):
        for summary in summaries:
            summary.answered = summary.covered
    else:
        for row in all_rows:
            for summary, cell in zip(summaries, row.cells, strict=True):
                if cell.published_supports is not None:
                    summary.answered += 1
    spreads.sort(key=lambda item: item[:2])
    return Summary(summaries, [row for _spread, _index, row in spreads[:MOST_DIFFERENT]])
