"""Drawing comparison cells: the ``cell`` macro of templates/jinja2/kb/includes/compare_cell.html.

A cell's markup depends only on its data and on the templates that draw it, so it is drawn once
per cell version and kept beside the record (kb.comparison.models.CellVersion.html) under
:func:`markup_key`, a hash of those templates: a changed template draws it again. Within one
drawing, each excerpt's citation is drawn once per stance and reused.
"""

import hashlib
from functools import cache

from django.template import engines
from markupsafe import Markup

from kb.comparison.marks import Marks

TEMPLATES = ("kb/includes/compare_cell.html", "includes/claims.html")


@cache
def _macros():
    env = engines["jinja2"].env
    cells = env.get_template(TEMPLATES[0]).module
    return cells.cell, env.get_template(TEMPLATES[1]).module.citation, cells.empty


@cache
def markup_key():
    """What the markup of a cell depends on besides its data: the text of the templates that draw it."""
    env = engines["jinja2"].env
    digest = hashlib.sha256()
    for name in TEMPLATES:
        source, _filename, _uptodate = env.loader.get_source(env, name)
        digest.update(name.encode() + b"\0" + source.encode() + b"\0")
    return digest.hexdigest()


def draw(cells):
    """{index: html} for ``cells`` (kb.comparison.cell.Cell with claims), as a list of strings in order."""
    cell_macro, citation_macro, _empty = _macros()
    citations = {}

    def cite(excerpt, stance=None):
        key = (excerpt.ref, stance)
        markup = citations.get(key)
        if markup is None:
            markup = citations[key] = citation_macro(excerpt=excerpt, stance=stance)
        return markup

    return [str(cell_macro(cell, cite, Marks)) for cell in cells]


def join_row(cells):
    """The cells of a table row as the table prints them, one a line: the kept markup of a cell with claims,
    the ``empty`` macro's for a cell without."""
    empty = _macros()[2]
    parts = [cell.html or empty(cell) for cell in cells]
    parts.append("")  # each cell ends its line
    return Markup("\n".join(parts))
