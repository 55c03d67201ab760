"""A comparison through time: its versions (mementos), the table at any of them, and what changed between two.

A comparison's versions are the content versions at which one of its cells got a new record
(or lost its record). A version is named outside the database as ``<epoch>-<generation>``
(kb.knowledge.models.ContentState.key), so versions of two databases never collide. The table
at a version is the records in force then; what changed between two versions is the cells whose
records differ (by digest), old beside new.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.db.models import Q
from markupsafe import Markup

from kb.comparison.cell import Cell
from kb.comparison.marks import SUPPORT_LABELS
from kb.comparison.models import CellVersion, VersionStamp
from kb.comparison.read_model import redraw
from kb.comparison.table import ComparisonTable

VERSION_RE = re.compile(r"(?P<epoch>[0-9a-f]{1,32})-(?P<generation>[0-9]{1,19})")


def version_name(epoch, generation):
    return f"{epoch}-{generation}"


def parse_version(text, epoch):
    """The generation a version name gives, if it names a version of this database (``epoch``); else None."""
    match = VERSION_RE.fullmatch(text or "")
    if not match or match["epoch"] != epoch:
        return None
    return int(match["generation"])


def versions_of(subject_ids):
    """[(generation, datetime)] at which a cell of these subjects changed, oldest first (two queries)."""
    records = CellVersion.objects.of_subjects(subject_ids)
    generations = set(records.values_list("valid_from", flat=True).distinct())
    generations.update(records.filter(valid_to__isnull=False).values_list("valid_to", flat=True).distinct())
    stamps = dict(VersionStamp.objects.filter(generation__in=generations).values_list("generation", "at"))
    return sorted((generation, stamps.get(generation)) for generation in generations)


def in_force(versions, generation):
    """The comparison's version in force at ``generation``: the latest of ``versions`` not after it, or None."""
    found = None
    for each, at in versions:
        if each > generation:
            break
        found = (each, at)
    return found


def at_datetime(versions, when):
    """The version in force at datetime ``when`` (the first one if ``when`` is before them all), or None."""
    found = None
    for each, at in versions:
        if at is not None and at > when:
            break
        found = (each, at)
    return found or (versions[0] if versions else None)


class History:
    """Every record of a comparison's cells (one query; one more if some were drawn with other templates),
    to give its table at any version and the changes."""

    def __init__(self, subjects):
        self.subjects = list(subjects)
        ids = [subject.pk for subject in self.subjects]
        self.records = list(
            CellVersion.objects.of_subjects(ids)
            .only(
                "subject_id", "dimension_id", "valid_from", "valid_to", "digest", "facts", "html", "markup_key", "data"
            )
            .order_by("valid_from", "pk")
        )
        redraw(self.records)  # drawn with other templates: drawn again, as the comparison page's cells are

    def _records_at(self, generation):
        return {
            record.cell_key: record
            for record in self.records
            if record.valid_from <= generation and (record.valid_to is None or record.valid_to > generation)
        }

    def table(self, generation):
        cells = [_cell(record) for record in self._records_at(generation).values()]
        return ComparisonTable(self.subjects, cells, version=generation)

    def changes(self, old, new):
        """[CellChange] of the cells whose record differs between versions ``old`` and ``new``, in table order."""
        before, after = self._records_at(old), self._records_at(new)
        changed = []
        for key in set(before) | set(after):
            was, now = before.get(key), after.get(key)
            if was is not None and now is not None and was.digest == now.digest:
                continue
            changed.append(CellChange(_cell(was), _cell(now)))
        changed.sort(key=lambda change: change.sort_key(self.subjects))
        return changed


def _cell(record):
    return Cell(json.loads(record.facts), Markup(record.html), record.data) if record is not None else None


@dataclass
class CellChange:
    """One cell, as it was and as it is, and what changed in words."""

    old: Cell | None
    new: Cell | None

    @property
    def cell(self):
        return self.new or self.old

    @property
    def dom_id(self):
        return self.cell.dom_id

    # Old and new side by side on one page: their cells' ids made distinct.
    @property
    def old_html(self):
        return self._renamed(self.old, "was")

    @property
    def new_html(self):
        return self._renamed(self.new, "now")

    def _renamed(self, cell, prefix):
        if cell is None or cell.html is None:
            return None
        return Markup(str(cell.html).replace(f'id="{cell.dom_id}"', f'id="{prefix}-{cell.dom_id}"', 1))

    def sort_key(self, subjects):
        order = {subject.pk: index for index, subject in enumerate(subjects)}
        cell = self.cell
        return (cell.dimension.sort_key, cell.dimension.pk, order.get(cell.subject.pk, 0))

    @property
    def what(self):
        """What changed, as short phrases (support, text, quotes added or removed, contested, outdated)."""
        old, new = self.old, self.new
        if old is None:
            return ["new cell"]
        if new is None:
            return ["no published claim any more"]
        said = []
        old_current, new_current = old.current_claims, new.current_claims
        old_supports = [SUPPORT_LABELS.get(claim.support, "none") for claim in old_current if claim.support]
        new_supports = [SUPPORT_LABELS.get(claim.support, "none") for claim in new_current if claim.support]
        if old_supports != new_supports:
            said.append(f"support: {', '.join(old_supports) or 'none'} → {', '.join(new_supports) or 'none'}")
        if [claim.cell for claim in old_current] != [claim.cell for claim in new_current]:
            said.append("text")
        old_quotes = {quote.excerpt.ref for quote in old.quotes}
        new_quotes = {quote.excerpt.ref for quote in new.quotes}
        if new_quotes - old_quotes:
            said.append(f"quotes added: {', '.join(sorted(new_quotes - old_quotes))}")
        if old_quotes - new_quotes:
            said.append(f"quotes removed: {', '.join(sorted(old_quotes - new_quotes))}")
        if old.contested != new.contested:
            said.append("now contested" if new.contested else "no longer contested")
        old_outdated = {claim.key for claim in old.outdated_claims}
        new_outdated = {claim.key for claim in new.outdated_claims}
        if old_outdated != new_outdated:
            said.append("outdated claims: " + (", ".join(sorted(new_outdated)) or "none"))
        return said or ["details (a claim's body or note, a quote's source or verification)"]


def changes_in_view(history, old, new, keep=None, shown=None):
    """The changes between ``old`` and ``new`` whose row is in the view: ``keep(table)`` gives the rows of a
    table the view shows (kb.comparison.filters.keep_rows; None: every row, and no table is built); a changed
    cell is in the view if its row is shown at either version. ``shown`` ({generation: dimension ids kept}),
    shared by the calls over one history, builds each version's table once."""
    changes = history.changes(old, new)
    if keep is None:
        return changes
    shown = {} if shown is None else shown
    kept = set()
    for generation in (old, new):
        if generation not in shown:
            shown[generation] = {row.dimension.pk for row in keep(history.table(generation))}
        kept |= shown[generation]
    return [change for change in changes if change.cell.dimension.pk in kept]


def newer_versions(subject_ids, generation):
    """Whether a cell of these subjects changed after ``generation`` (one query)."""
    return (
        CellVersion.objects.of_subjects(subject_ids)
        .filter(Q(valid_from__gt=generation) | Q(valid_to__gt=generation))
        .exists()
    )
