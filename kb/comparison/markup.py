"""Drawing comparison cells: the ``cell`` macro of templates/jinja2/kb/includes/compare_cell.html.

A cell's markup depends only on its data and on the templates that draw it, so it is drawn once
per cell version and kept beside the record (kb.comparison.models.CellVersion.html) under
:func:`markup_key`, a hash of those templates and of the code that decides what they print: a
changed template or icon draws it again. Within one
drawing, each excerpt's citation is drawn once per stance and reused.
"""

import hashlib
import inspect
import re
import secrets
from functools import cache

from django.template import engines
from markupsafe import Markup

from kb.comparison import cell as cell_module
from kb.comparison import marks
from kb.comparison.marks import Marks

TEMPLATES = ("kb/includes/compare_cell.html", "includes/claims.html")
# The code that decides what the templates print: icons and labels, source chips, quote states.
CODE = (marks, cell_module)


@cache
def _macros():
    env = engines["jinja2"].env
    cells = env.get_template(TEMPLATES[0]).module
    return cells.cell, env.get_template(TEMPLATES[1]).module.citation, cells.empty


@cache
def markup_key():
    """What the markup of a cell depends on besides its data: the text of the templates that draw it
    and of the code that decides what they print (a new icon or chip rule draws every cell again)."""
    env = engines["jinja2"].env
    digest = hashlib.sha256()
    for name in TEMPLATES:
        source, _filename, _uptodate = env.loader.get_source(env, name)
        digest.update(name.encode() + b"\0" + source.encode() + b"\0")
    for module in CODE:
        digest.update(module.__name__.encode() + b"\0" + inspect.getsource(module).encode() + b"\0")
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


class CellsByReference:
    """A page that prints its rows' cells by reference, and is encoded with their bytes kept.

    Encoding a large comparison to UTF-8 costs more than drawing the rest of it (a text with one character
    past Latin-1 is encoded character by character), and its cells are most of its bytes. Each cell's markup
    is encoded once per cell and process (kb.comparison.cell.Cell.html_bytes, kept with the cell by
    kb.comparison.cell_memo); the template prints a marker where a row's cells go (:meth:`cells`, as the
    ``row_cells`` of its context) and :meth:`encode` encodes the rest of the page and puts the cells in.
    The bytes are those of the page drawn with ``row.cells_html``.
    """

    def __init__(self):
        self.token = secrets.token_hex(8)
        self.marker = re.compile(f"\0{self.token}:([0-9]+)\0")
        self.rows = []

    def cells(self, row):
        self.rows.append(row.cells)
        return Markup(f"\0{self.token}:{len(self.rows) - 1}\0")

    def encode(self, text):
        """The page ``text`` as UTF-8, each marker replaced by its row's cells."""
        empty = _macros()[2]
        pieces = self.marker.split(text)
        for index in range(1, len(pieces), 2):
            cells = self.rows[int(pieces[index])]
            parts = [cell.html_bytes if cell.html else str(empty(cell)).encode() for cell in cells]
            parts.append(b"")  # each cell ends its line
            pieces[index] = b"\n".join(parts)
        for index in range(0, len(pieces), 2):
            pieces[index] = pieces[index].encode()
        return b"".join(pieces)
