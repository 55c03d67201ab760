"""The read model of comparison cells: what a reader sees of each (subject, dimension), by content version.

One ``CellVersion`` per cell and range of content versions ``[valid_from, valid_to)``; the open one
(``valid_to`` NULL) is what readers see now. Versions are the content generation
(kb.knowledge.models.ContentVersion); outside the database they are named with the epoch too.
Written only by kb.comparison.read_model, in the transaction of the change that touched the cell.
"""

from django.db import connections, models
from django.db.models import Q


class CellVersionQuerySet(models.QuerySet):
    def current(self):
        return self.filter(valid_to__isnull=True)

    def at(self, version):
        """The records in force at content version ``version`` (None: now)."""
        if version is None:
            return self.current()
        return self.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=version), valid_from__lte=version)

    def of_subjects(self, subject_ids):
        return self.filter(subject_id__in=list(subject_ids))

    def of_dimensions(self, dimension_ids):
        return self.filter(dimension_id__in=list(dimension_ids))


class CellVersion(models.Model):
    """One version of one cell, with everything a reader sees of it.

    ``data``: the cell as canonical JSON (kb.comparison.cell.Cell.from_data reads it): its published claims with
    their evidence, excerpts and sources, its subject and dimension as shown. ``facts``: the little the table's
    filters, summary and frame need without reading ``data``. ``html``: the cell drawn by the cell template,
    valid while ``markup_key`` (a hash of the templates it was drawn with) is the current one.
    Subjects and dimensions are plain ids, not foreign keys: a pinned page outlives a deleted subject.
    """

    subject_id = models.BigIntegerField()
    dimension_id = models.BigIntegerField()
    valid_from = models.BigIntegerField()
    valid_to = models.BigIntegerField(null=True, blank=True)
    digest = models.CharField(max_length=64, help_text="SHA-256 of data.")
    data = models.TextField()
    facts = models.TextField()
    html = models.TextField()
    markup_key = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    objects = CellVersionQuerySet.as_manager()

    class Meta:
        app_label = "kb"
        ordering = ["subject_id", "dimension_id", "valid_from"]
        indexes = [
            models.Index(fields=["subject_id", "valid_to"], name="cellversion_subject_open_idx"),
            models.Index(fields=["dimension_id", "valid_to"], name="cellversion_dimension_open_idx"),
            models.Index(fields=["subject_id", "dimension_id", "valid_from"], name="cellversion_cell_idx"),
            models.Index(fields=["valid_from"], name="cellversion_from_idx"),
            models.Index(fields=["valid_to"], name="cellversion_to_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_id", "dimension_id"],
                condition=Q(valid_to__isnull=True),
                name="cellversion_one_open_per_cell",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="cellversion_range_not_empty",
            ),
        ]

    def __str__(self):
        return f"cell {self.subject_id}/{self.dimension_id} [{self.valid_from}, {self.valid_to or '…'})"

    @property
    def cell_key(self):
        return (self.subject_id, self.dimension_id)


class VersionStamp(models.Model):
    """When a content version that rewrote cells came into force: what Memento's datetimes name."""

    generation = models.BigIntegerField(unique=True)
    at = models.DateTimeField()

    class Meta:
        app_label = "kb"
        ordering = ["generation"]

    def __str__(self):
        return f"version {self.generation} at {self.at:%Y-%m-%d %H:%M:%S}"


class SubjectColumnQuerySet(models.QuerySet):
    def addresses(self, subject_ids):
        """{subject id: (changed_at, digest)} of these subjects' columns.

        In one plain SQL statement: every comparison page reads it, and the ORM would build the same query
        afresh each time, which costs several times the read.
        """
        subject_ids = [int(subject_id) for subject_id in subject_ids]
        if not subject_ids:
            return {}
        connection = connections[self.db]
        table = connection.ops.quote_name(SubjectColumn._meta.db_table)
        placeholders = ", ".join(["%s"] * len(subject_ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT subject_id, changed_at, digest FROM {table} WHERE subject_id IN ({placeholders})", subject_ids
            )
            return {subject_id: (changed_at, digest) for subject_id, changed_at, digest in cursor.fetchall()}


class SubjectColumn(models.Model):
    """A subject's column of cells now: when it last changed, and its content address.

    ``changed_at``: the content version of the newest opening or closing of its records; its cells are
    the same at every version from then until the next change. ``digest``: SHA-256 of its open records'
    digests (kb.comparison.read_model.column_digest), which names the column in any database, for good
    (kb.comparison.table.readers_cells).
    """

    subject_id = models.BigIntegerField(unique=True)
    changed_at = models.BigIntegerField()
    digest = models.CharField(max_length=64)

    objects = SubjectColumnQuerySet.as_manager()

    class Meta:
        app_label = "kb"

    def __str__(self):
        return f"subject {self.subject_id} changed at {self.changed_at}"
