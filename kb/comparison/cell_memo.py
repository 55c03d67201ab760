"""Stored cells already read, in this process, by content address: never stale, so never invalidated.

A record of the read model never changes once written (a change opens a new record), and its
digest is the SHA-256 of its data; its markup depends on that data and on the templates
(kb.comparison.markup.markup_key). So (digest, markup key) names one cell's facts and markup in
every database, forever: a page reads which records are in force (one light query) and only
the cells it has not seen. Bounded (``KB_CELL_MEMO_ENTRIES``, least recently used out); holds
Python objects only, nothing shared between processes, nothing pickled.
"""

import threading
from collections import OrderedDict

from django.conf import settings


class CellMemo:
    def __init__(self):
        self.cells = OrderedDict()
        self.lock = threading.Lock()

    def get_many(self, keys):
        found = {}
        with self.lock:
            for key in keys:
                cell = self.cells.get(key)
                if cell is not None:
                    self.cells.move_to_end(key)
                    found[key] = cell
        return found

    def set_many(self, cells):
        limit = settings.KB_CELL_MEMO_ENTRIES
        if not limit:
            return
        with self.lock:
            self.cells.update(cells)
            for key in cells:
                self.cells.move_to_end(key)
            while len(self.cells) > limit:
                self.cells.popitem(last=False)

    def clear(self):  # tests only: what is kept is never stale
        with self.lock:
            self.cells.clear()


memo = CellMemo()  # (digest, markup key) -> Cell
# ("column", column digest, markup key) -> (Cell, ...); ("frame", epoch, generation, changed) -> table.Frame
columns = CellMemo()
