"""Keeping the read model (kb.comparison.models.CellVersion) true: every write rewrites exactly the cells it changed.

At the end of every content write (kb.knowledge.signals), in its transaction and after the
generation was bumped to ``v``, :func:`apply` turns what the write touched into cells, computes
those cells fresh from the database (kb.comparison.snapshot) and, for each whose data differs
from its open record, closes that record at ``v`` and opens a new one from ``v``, drawn once
(kb.comparison.markup). Cells whose data is the same keep their record. A fixed number of
queries whatever the number of cells. :func:`rebuild` does the same for every cell (after a
migration or a restore); :func:`check` lists the cells whose open record is not what the
database says now.
"""

import hashlib
import json
import logging
from dataclasses import dataclass, field

from django.db import DatabaseError
from django.db.models import Q
from markupsafe import Markup

from kb.comparison.cell import Cell, facts_of
from kb.comparison.cell_memo import memo
from kb.comparison.markup import draw, markup_key
from kb.comparison.models import CellVersion, SubjectColumn, VersionStamp
from kb.comparison.snapshot import canonical, compute_cells, digest, readers_claims
from kb.knowledge.models import Claim, ContentVersion
from kb.knowledge.signals import content_changed

logger = logging.getLogger(__name__)
BATCH = 500


@dataclass
class Rewritten:
    """What one refresh did: the cells closed (an old record ended) and opened (a new record began)."""

    version: int = 0
    closed: set = field(default_factory=set)
    opened: set = field(default_factory=set)

    @property
    def cells(self):
        return self.closed | self.opened


last = Rewritten()  # the last refresh of this process (tests and the benchmark count its cells)


def cells_touched(touched):
    """The (subject id, dimension id) cells a write's :class:`Touched` may have changed (two queries)."""
    cells = set(touched.cells)
    if touched.everything:
        cells.update(readers_claims().values_list("subject_id", "dimension_id").distinct())
        cells.update(CellVersion.objects.current().values_list("subject_id", "dimension_id"))
        return cells
    condition = Q()
    if touched.claims:
        condition |= Q(pk__in=touched.claims) | Q(superseded_by__in=touched.claims)
    if touched.excerpts:
        condition |= Q(evidence__excerpt__in=touched.excerpts)
    if touched.sources:
        condition |= Q(evidence__excerpt__source__in=touched.sources)
    if touched.subjects:
        condition |= Q(subject__in=touched.subjects) | Q(superseded_by__subject__in=touched.subjects)
    if touched.kinds:
        condition |= Q(subject__kind__in=touched.kinds)
    if touched.dimensions:
        condition |= Q(dimension__in=touched.dimensions)
    if touched.groups:
        condition |= Q(dimension__group__in=touched.groups)
    if condition:
        cells.update(Claim.objects.filter(condition).values_list("subject_id", "dimension_id").distinct())
    if touched.subjects or touched.dimensions:
        # Deleted subjects and dimensions have no claims left: their open records say which cells they had.
        opened = CellVersion.objects.current().filter(
            Q(subject_id__in=touched.subjects) | Q(dimension_id__in=touched.dimensions)
        )
        cells.update(opened.values_list("subject_id", "dimension_id"))
    return cells


def refresh(cells, version, *, everything=False):
    """Bring the open records of ``cells`` in line with the database, as of content version ``version``."""
    result = Rewritten(version=version)
    if not cells:
        return result
    subject_ids = sorted({subject_id for subject_id, _ in cells})
    dimension_ids = sorted({dimension_id for _, dimension_id in cells})
    claims = readers_claims()
    records = CellVersion.objects.current()
    if not everything:
        claims = claims.filter(subject_id__in=subject_ids, dimension_id__in=dimension_ids)
        records = records.filter(subject_id__in=subject_ids, dimension_id__in=dimension_ids)
    fresh = compute_cells(claims, cells=cells)
    open_records = {
        (subject_id, dimension_id): (pk, stored)
        for pk, subject_id, dimension_id, stored in records.values_list("pk", "subject_id", "dimension_id", "digest")
        if (subject_id, dimension_id) in cells
    }
    closing, opening = [], []
    for cell in sorted(cells):
        data = fresh.get(cell)
        text = canonical(data) if data is not None else None
        found = open_records.get(cell)
        if found is not None and text is not None and found[1] == digest(text):
            continue
        if found is None and text is None:
            continue
        if found is not None:
            closing.append(found[0])
            result.closed.add(cell)
        if text is not None:
            opening.append((cell, data, text))
            result.opened.add(cell)
    for start in range(0, len(closing), BATCH):
        CellVersion.objects.filter(pk__in=closing[start : start + BATCH]).update(valid_to=version)
    if opening:
        key = markup_key()
        drawn = draw([Cell.from_data(data) for _cell, data, _text in opening])
        records = [
            CellVersion(
                subject_id=cell[0],
                dimension_id=cell[1],
                valid_from=version,
                digest=digest(text),
                data=text,
                facts=canonical(facts_of(data)),
                html=html,
                markup_key=key,
            )
            for (cell, data, text), html in zip(opening, drawn, strict=True)
        ]
        CellVersion.objects.bulk_create(records, batch_size=BATCH)
        if not everything and len(records) <= BATCH:
            # An editor's write: the cells it drew are kept in this process as a page reads them, by content
            # address (kb.comparison.cell_memo), which never goes stale even if the write is rolled back.
            memo.set_many(
                {(record.digest, key): Cell(json.loads(record.facts), Markup(record.html)) for record in records}
            )
    _columns_changed({cell[0] for cell in result.cells}, version)
    return result


def column_digest(digests):
    """The content address of a subject's column: SHA-256 of its records' digests, in order."""
    return hashlib.sha256(",".join(sorted(digests)).encode()).hexdigest()


def _columns_changed(subject_ids, version):
    """Say that these subjects' cells changed at ``version`` (kb.comparison.models.SubjectColumn)."""
    if not subject_ids:
        return
    digests = {subject_id: [] for subject_id in subject_ids}
    for subject_id, value in (
        CellVersion.objects.current().filter(subject_id__in=subject_ids).values_list("subject_id", "digest")
    ):
        digests[subject_id].append(value)
    SubjectColumn.objects.filter(subject_id__in=subject_ids).delete()
    SubjectColumn.objects.bulk_create(
        [
            SubjectColumn(subject_id=subject_id, changed_at=version, digest=column_digest(values))
            for subject_id, values in sorted(digests.items())
        ]
    )


def apply(touched, state):
    """The listener of every content write (kb.knowledge.signals.on_content_change)."""
    global last
    if not touched:
        return
    last = refresh(cells_touched(touched), state.generation, everything=touched.everything)
    if last.cells:
        VersionStamp.objects.update_or_create(generation=state.generation, defaults={"at": state.changed})
        logger.debug("cells rewritten at %s: %d", state.key, len(last.cells))


def rebuild(wrong=None):
    """Every cell checked against the database; those that differ get a new version (and the generation a bump).

    ``wrong`` is what :func:`check` found, when the caller has already run it. A database whose records
    are right keeps its generation. Returns what was rewritten.
    """
    if wrong is None:
        wrong = check()
    if not wrong:
        return Rewritten(version=ContentVersion.objects.state().generation)
    content_changed(cells=wrong)  # only the cells found wrong are computed again
    latest, digests = {}, {}
    for subject_id, valid_from, valid_to, value in CellVersion.objects.values_list(
        "subject_id", "valid_from", "valid_to", "digest"
    ):
        latest[subject_id] = max(latest.get(subject_id, 0), valid_from, valid_to or 0)
        if valid_to is None:
            digests.setdefault(subject_id, []).append(value)
    SubjectColumn.objects.all().delete()
    SubjectColumn.objects.bulk_create(
        [
            SubjectColumn(subject_id=subject_id, changed_at=at, digest=column_digest(digests.get(subject_id, [])))
            for subject_id, at in latest.items()
        ]
    )
    return last


def check():
    """The cells whose open record differs from the cell computed fresh now: [(subject id, dimension id)].

    A subject whose column says it changed before its newest record counts all its cells as wrong.
    """
    fresh = compute_cells(readers_claims())
    columns = {subject_id: (at, value) for subject_id, at, value in SubjectColumn.objects.values_list(
        "subject_id", "changed_at", "digest"
    )}  # fmt: skip
    stored, latest, digests, cells = {}, {}, {}, {}
    for subject_id, dimension_id, valid_from, valid_to, value in CellVersion.objects.values_list(
        "subject_id", "dimension_id", "valid_from", "valid_to", "digest"
    ):  # every record read once: the open ones give the stored digests too
        latest[subject_id] = max(latest.get(subject_id, 0), valid_from, valid_to or 0)
        cells.setdefault(subject_id, []).append((subject_id, dimension_id))
        if valid_to is None:
            digests.setdefault(subject_id, []).append(value)
            stored[(subject_id, dimension_id)] = value
    wrong = [cell for cell, data in fresh.items() if stored.pop(cell, None) != digest(canonical(data))]
    wrong += list(stored)
    for subject_id, at in latest.items():
        if columns.get(subject_id) != (at, column_digest(digests.get(subject_id, []))):
            wrong += cells[subject_id]
    return sorted(set(wrong))


def redraw(records):
    """Draw again the records (CellVersion) whose markup was drawn with other templates; saved when possible.

    Returns the records drawn again (their ``html`` is the new markup, even where it could not be saved).
    """
    key = markup_key()
    stale = [record for record in records if record.markup_key != key]
    if not stale:
        return stale
    for record, html in zip(stale, draw([Cell.from_data(json.loads(record.data)) for record in stale]), strict=True):
        record.html, record.markup_key = html, key
    try:
        CellVersion.objects.bulk_update(stale, ["html", "markup_key"], batch_size=BATCH)
    except DatabaseError:  # a read-only replica: the page is right, the record is redrawn next time
        logger.warning("could not keep %d redrawn cells", len(stale), exc_info=True)
    return stale


def rebuild_after_migrate(sender, using="default", **kwargs):
    """After a ``migrate`` that ran migrations (and a test database's set-up) every cell is checked.

    Django's post_migrate passes ``plan``, the migrations run: empty when nothing migrated (``make run``
    and ``make serve`` migrate at every start), and then there is nothing to check.
    """
    if using == "default" and kwargs.get("plan"):
        rebuild()
