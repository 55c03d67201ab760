"""Drawing comparison cells: the ``cell`` macro of templates/jinja2/kb/includes/compare_cell.html, from Python.

A cell's markup depends only on its subject, its dimension and their claims, so it is drawn
once and kept (kb.comparison.columns) rather than on every page that shows it. Within one
drawing, each excerpt's citation is drawn once per stance and reused: the same passage often
backs several cells.
"""

from functools import cache

from django.template import engines

from kb.comparison.table import STANCE_ICONS, STANCE_LABELS, SUPPORT_ICONS


class Marks:
    """The icons and labels a cell prints (shapes, so that nothing relies on colour alone)."""

    support_icons = SUPPORT_ICONS
    stance_icons = STANCE_ICONS
    stance_labels = STANCE_LABELS


@cache
def _macros():
    env = engines["jinja2"].env
    return (
        env.get_template("kb/includes/compare_cell.html").module.cell,
        env.get_template("includes/claims.html").module.citation,
    )


def draw_cells(cells):
    """Set ``cell.html`` on each of ``cells`` (kb.comparison.table.Cell with claims)."""
    cell_macro, citation_macro = _macros()
    citations = {}

    def cite(excerpt, stance=None):
        key = (excerpt.id, stance)
        markup = citations.get(key)
        if markup is None:
            markup = citations[key] = citation_macro(excerpt=excerpt, stance=stance)
        return markup

    for cell in cells:
        cell.html = cell_macro(cell, cite, Marks)
