"""The cells of a subject's page (its column) and of a dimension's page (its row), as the comparisons draw them.

Readers' cells are the read model's open records (kb.comparison.models.CellVersion): one query, each
record's facts and the markup drawn once by the one cell template (kb.comparison.markup), so a cell
reads the same on every page. A staff preview's cells are computed fresh, drafts included
(kb.comparison.snapshot), and drawn, their claim links keeping the preview.
"""

import json

from markupsafe import Markup

from kb.comparison.cell import Cell
from kb.comparison.markup import draw, markup_key
from kb.comparison.models import CellVersion
from kb.comparison.read_model import redraw
from kb.comparison.snapshot import cells_of_subjects


def _open_cells(records):
    """Cells of the open ``records`` (a CellVersion queryset): one query; records drawn with older templates redrawn."""
    key = markup_key()
    rows = list(records.current().order_by().values_list("pk", "facts", "html", "markup_key"))
    stale = [pk for pk, _facts, _html, drawn_with in rows if drawn_with != key]
    redrawn = {}
    if stale:
        records = list(CellVersion.objects.filter(pk__in=stale))
        redraw(records)
        redrawn = {record.pk: record.html for record in records}
    return [Cell(json.loads(facts), Markup(redrawn.get(pk, html))) for pk, facts, html, _drawn_with in rows]


def subject_cells(subject_id):
    """The subject's cells readers see now, any order."""
    return _open_cells(CellVersion.objects.of_subjects([subject_id]))


def dimension_cells(dimension_id):
    """The dimension's cells readers see now, any order."""
    return _open_cells(CellVersion.objects.of_dimensions([dimension_id]))


def preview_cells(subject_id, link_query):
    """The subject's cells with drafts, computed now and drawn; each claim link ends with ``?link_query``."""
    data = list(cells_of_subjects([subject_id], preview=True).values())
    for cell in data:
        for claim in cell["claims"]:
            claim["url"] = f"{claim['url']}?{link_query}"
    cells = [Cell.from_data(each) for each in data]
    for cell, html in zip(cells, draw(cells), strict=True):
        cell.html = Markup(html)
    return cells
