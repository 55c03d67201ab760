"""Readers' comparison tables, assembled from per-subject columns kept for one content generation.

A comparison URL names any 2 to 8 subjects with any filters, so a whole page (kb.ops.page_cache)
is seldom asked for twice; but a subject's column is the same in every comparison that shows
it: its cells (kb.comparison.table.Cell), each with its published claims, their evidence and its
drawn markup (kb.comparison.cells). A column is kept under the content generation
(kb.knowledge.models.ContentVersion), which every content change bumps, so it is never used for content
it was not built from, on any process or host, and needs no invalidation.

Columns are kept at two levels: the most recently used in this process's memory, unpickled,
and, when the cache is shared (Redis: ``KB_COLUMN_CACHE``), in it, for every process and host. A table
costs the dimensions and the columns from there; only the subjects whose columns are missing
are read from the database, with two queries whatever their number. Staff previews (drafts)
are always built from the database.
"""

import threading
from collections import OrderedDict

from django.conf import settings
from django.core.cache import caches

from kb.comparison.table import ComparisonTable, SubjectCatalogue, _dimensions, build_table, cells_of, fetch_claims
from kb.knowledge.models import ContentVersion

PREFIX = "kb:column"


class _Recent:
    """The most recently used kept values of this process, by key (keys name their generation)."""

    def __init__(self):
        self.values = OrderedDict()
        self.lock = threading.Lock()

    def get_many(self, keys):
        with self.lock:
            found = {}
            for key in keys:
                if key in self.values:
                    self.values.move_to_end(key)
                    found[key] = self.values[key]
            return found

    def set_many(self, values):
        with self.lock:
            self.values.update(values)
            for key in values:
                self.values.move_to_end(key)
            while len(self.values) > settings.KB_COLUMNS_IN_MEMORY:
                self.values.popitem(last=False)

    def clear(self):
        with self.lock:
            self.values.clear()


recent = _Recent()


def content_version(request):
    """(generation, changed) of the content this request renders: the page cache's (read from the
    primary), else read now. The time of the change makes a key unique even if a database is
    recreated from scratch and counts its generations again."""
    version = getattr(request, "content_version", None)
    if version is None:
        version = request.content_version = ContentVersion.objects.current()
    return version


def _kept(keys, build):
    """{key: value} for ``keys``, from memory, then the shared cache, then ``build(missing keys)``."""
    found = recent.get_many(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        shared = caches[settings.KB_COLUMN_CACHE] if settings.KB_COLUMN_CACHE else None
        fetched = shared.get_many(missing) if shared else {}
        missing = [key for key in missing if key not in fetched]
        if missing:
            built = build(missing)
            if shared:
                shared.set_many(built, settings.KB_COLUMN_CACHE_SECONDS)
            fetched.update(built)
        recent.set_many(fetched)
        found.update(fetched)
    return found


def _prefix(version):
    generation, changed = version
    return f"{PREFIX}:{generation}:{changed.timestamp() if changed else 0}:"


def subject_catalogue(request):
    """Every subject (kb.comparison.table.SubjectCatalogue), kept like the columns: what resolves a comparison's URL."""
    if not settings.KB_COLUMNS_IN_MEMORY:
        return SubjectCatalogue.load()
    key = _prefix(content_version(request)) + "subjects"
    return _kept([key], lambda keys: {key: SubjectCatalogue.load()})[key]


def readers_table(subjects, version):
    """The ComparisonTable of ``subjects`` (published claims), from the columns of ``version``."""
    subjects = list(subjects)
    if not settings.KB_COLUMNS_IN_MEMORY:
        return build_table(subjects)
    prefix = _prefix(version)
    dimensions_key = prefix + "dimensions"
    dimensions = _kept([dimensions_key], lambda keys: {dimensions_key: _dimensions()})[dimensions_key]
    keys = {prefix + str(subject.pk): subject for subject in subjects}

    def build(missing):
        missing_subjects = [keys[key] for key in missing]
        cells = cells_of(missing_subjects, dimensions, fetch_claims(missing_subjects))
        columns = {prefix + str(subject.pk): {} for subject in missing_subjects}
        for (subject_id, dimension_id), cell in cells.items():
            columns[prefix + str(subject_id)][dimension_id] = cell
        return columns

    cells = {}
    for key, column in _kept(list(keys), build).items():
        subject_id = keys[key].pk
        cells.update(((subject_id, dimension_id), cell) for dimension_id, cell in column.items())
    return ComparisonTable(subjects, dimensions, cells)


def comparison_table(request, subjects, *, preview=False):
    """The table a comparison page or its open data shows: a staff preview's from the database, else readers'."""
    if preview:
        return build_table(subjects, preview=True)
    return readers_table(subjects, content_version(request))
