"""Bringing a content directory into the database, all or nothing, without undoing editors' work.

What to write is decided record by record by a three-way comparison (kb.content.sync):
changes made only in the files are applied, changes made only in the admin are kept,
and changes made on both sides are conflicts that stop the load unless it is forced.
Rows are matched to records by natural key (slugs), compared field by field, and only
what differs is written, in bulk and with history. Any problem raises a ContentError
naming the file and line, and the transaction leaves the database exactly as it was.
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from kb.content.database import database_content
from kb.content.files import ContentSet, key_text, read_content, show_key
from kb.content.referrers import referring_files
from kb.content.schema import SPECS
from kb.content.sync import (
    SHOWN_CONFLICTS,
    fingerprint,
    load_base_texts,
    load_file_hashes,
    plan_load,
    record_sync,
)
from kb.content.unchanged import Settling, file_hashes
from kb.content.yamlio import ContentError
from kb.evidence.verification import source_captures, verify_loaded
from kb.knowledge import models as m
from kb.knowledge.signals import bulk_write, content_changed
from kb.site import search_index

logger = logging.getLogger("kb.content")

CHANGE_REASON = "load_content"
CHUNK = 1000  # primary keys per query
FEW_WRITES = 1000  # records a load writes up to which it refreshes only what they touch
LOCK_KEY = 0x6B625F6C6F6164  # "kb_load"


@dataclass
class LoadReport:
    counts: dict = field(default_factory=lambda: defaultdict(Counter))
    kept: list = field(default_factory=list)  # sync.Change: admin work the load left alone
    discarded: list = field(default_factory=list)  # sync.Change: admin work a --force load replaced

    def add(self, model, what, number=1):
        self.counts[model._meta.verbose_name_plural][what] += number

    @property
    def changed(self):
        return any(c["created"] or c["updated"] or c["deleted"] for c in self.counts.values())

    def lines(self):
        for name, c in self.counts.items():
            yield (
                f"{name}: {c['created']} created, {c['updated']} updated, "
                f"{c['deleted']} deleted, {c['unchanged']} unchanged"
            )

    def kept_lines(self):
        for change in self.kept[:SHOWN_CONFLICTS]:
            yield from change.lines()
        if len(self.kept) > SHOWN_CONFLICTS:
            yield f"… and {len(self.kept) - SHOWN_CONFLICTS} more"

    def discarded_lines(self):
        for change in self.discarded:
            yield from change.lines()


class KeyIndex:
    """Natural key <-> primary key, per model, built from the database."""

    def __init__(self):
        self.pk_by_key = {}
        self.key_by_pk = {}

    def refresh(self, spec):
        attnames = [spec.model._meta.get_field(name).attname for name in spec.key]
        pk_by_key, key_by_pk = {}, {}
        for pk, *parts in spec.model.objects.values_list("pk", *attnames).order_by():
            key = self.key_from_values(spec, parts)
            pk_by_key[key] = pk
            key_by_pk[pk] = key
        self.pk_by_key[spec.model] = pk_by_key
        self.key_by_pk[spec.model] = key_by_pk

    def key_from_values(self, spec, values):
        """The natural key of a row from its key columns (foreign keys as primary keys)."""
        key_refs = spec.key_refs
        return tuple(
            self.key_by_pk[key_refs[name]].get(value) if name in key_refs else value
            for name, value in zip(spec.key, values, strict=True)
        )

    def resolve(self, target, key, row, field_name):
        pk = self.pk_by_key[target].get(key)
        if pk is None:
            raise row.error(f"{field_name} refers to unknown {target._meta.verbose_name} {show_key(key)!r}")
        return pk


def _validation_message(error):
    if hasattr(error, "message_dict"):
        return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in error.message_dict.items())
    return " ".join(error.messages)


class Loader:
    def __init__(self, plan, progress=None, now=None):
        self.plan = plan
        self.content = plan.content
        self.progress = progress or (lambda message: None)
        self.index = KeyIndex()
        self.report = LoadReport(kept=plan.kept, discarded=plan.discarded)
        self.now = now or timezone.now()
        self.written = defaultdict(list)  # model -> instances created or updated (not deleted)

    def run(self):
        to_delete = []
        for spec in SPECS:
            self.index.refresh(spec)
            to_delete.append((spec, self._sync(spec)))
            if self.report.counts[spec.model._meta.verbose_name_plural]["created"]:
                self.index.refresh(spec)
            self._link_late_refs(spec)
            self.progress(f"{spec.model._meta.verbose_name_plural}: compared and written")
        for spec, pks in reversed(to_delete):
            if pks:
                self._delete(spec.model, pks)
        return self.report

    def _link_late_refs(self, spec):
        """Foreign keys to the model's own rows (a claim superseded by a claim), once all of them exist."""
        if not spec.late_refs:
            return
        model = spec.model
        attnames = [f"{name}_id" for name in spec.late_refs]
        current = {pk: values for pk, *values in model.objects.values_list("pk", *attnames).order_by()}
        changed = []
        for row in self.content.rows[model]:
            pk = self.index.pk_by_key[model][row.key]
            desired = [
                None if row.values[name] is None else self.index.resolve(target, row.values[name], row, name)
                for name, target in spec.late_refs.items()
            ]
            if desired != current[pk]:
                changed.append((pk, desired, row))
        if not changed:
            return
        instances = model.objects.in_bulk([pk for pk, _, _ in changed])
        for pk, desired, _ in changed:
            for attname, value in zip(attnames, desired, strict=True):
                setattr(instances[pk], attname, value)
        self.written[model] += instances.values()
        try:
            bulk_update_with_history(
                list(instances.values()), model, list(spec.late_refs), batch_size=500,
                default_change_reason=CHANGE_REASON,
            )  # fmt: skip
        except IntegrityError as error:
            raise ContentError("content", 0, f"{spec.label}: the database refused the records: {error}") from error

    def _delete(self, model, pks):
        try:
            with bulk_write():
                model.objects.filter(pk__in=pks).delete()
        except ProtectedError as error:
            kept = ", ".join(sorted(str(obj) for obj in error.protected_objects)[:5])
            raise ContentError(
                "content", 0, f"the files delete {model._meta.verbose_name_plural} that records still refer to: {kept}"
            ) from None
        # Deletion history comes from signals, which cannot be told who deleted: say it was the load.
        model.history.model.objects.filter(
            history_type="-", id__in=pks, history_date__gte=self.now, history_change_reason__isnull=True
        ).update(history_change_reason=CHANGE_REASON)
        self.report.add(model, "deleted", len(pks))

    def _desired(self, spec, row):
        """Field values of ``row`` with foreign keys resolved to primary keys."""
        values = {}
        for name in spec.plain:
            values[name] = row.values[name]
        for name, target in spec.refs.items():
            key = row.values[name]
            values[f"{name}_id"] = None if key is None else self.index.resolve(target, key, row, name)
        for name, target in spec.key_refs.items():
            part = row.key[spec.key.index(name)]
            values[f"{name}_id"] = self.index.resolve(target, part, row, name)
        for name in spec.key:
            if not spec.is_fk(name):
                values[name] = row.key[spec.key.index(name)]
        return values

    def _sync(self, spec):
        """Create and update what differs; return the primary keys of rows no file has any more."""
        model = spec.model
        compared = [*spec.plain, *(f"{name}_id" for name in spec.refs)]
        existing = dict(self.index.pk_by_key[model])
        # as the files would say them (text without trailing whitespace): an equal value is not rewritten
        normal = [spec.normalise(name) for name in compared]
        rows = self.content.rows[model]
        wanted = [existing[row.key] for row in rows if row.key in existing]
        current = {}  # values of the records the files give, read for those only (a load may read a few files)
        for start in range(0, len(wanted), CHUNK):
            for pk, *values in model.objects.filter(pk__in=wanted[start : start + CHUNK]).values_list("pk", *compared):
                current[pk] = [form(value) for form, value in zip(normal, values, strict=True)]
        created, updated = [], []
        for row in rows:
            desired = self._desired(spec, row)
            pk = existing.pop(row.key, None)
            for name in self.plan.db_meta.get((model, row.key), ()):
                if pk is not None:  # the position or date the database has stays (see sync._settle_meta)
                    desired[name] = current[pk][compared.index(name)]
            if pk is None:
                created.append((model(**desired), row))
            elif any(value != desired[name] for name, value in zip(compared, current[pk], strict=True)):
                updated.append((pk, desired, row))
            else:
                self.report.add(model, "unchanged")
        if updated:
            instances = model.objects.in_bulk([pk for pk, _, _ in updated])
            updated = [(self._apply(instances[pk], desired, compared), row) for pk, desired, row in updated]
        for obj, row in created + updated:
            self._validate(spec, obj, row)
        self._write(spec, [obj for obj, _ in created], [obj for obj, _ in updated], compared)
        settled = self.plan.settled[model]
        self.report.add(model, "unchanged", len(settled))
        gone = [(key, pk) for key, pk in existing.items() if (model, key) not in self.plan.keep]
        return [pk for key, pk in gone if key_text(key) not in settled] if settled else [pk for _, pk in gone]

    @staticmethod
    def _apply(obj, desired, compared):
        for name in compared:
            setattr(obj, name, desired[name])
        return obj

    def _validate(self, spec, obj, row):
        fks = [f.name for f in spec.model._meta.fields if f.is_relation]
        try:
            obj.full_clean(exclude=fks, validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            raise row.error(_validation_message(error)) from None
        if isinstance(obj, m.Rendered):
            obj.render()

    def _write(self, spec, created, updated, compared):
        model = spec.model
        try:
            if created:
                bulk_create_with_history(created, model, batch_size=500, default_change_reason=CHANGE_REASON)
            if updated:
                fields = [name.removesuffix("_id") for name in compared]
                if isinstance(updated[0], m.Rendered):
                    fields += model.rendered_fields()
                if any(f.name == "updated" for f in model._meta.fields):
                    for obj in updated:
                        obj.updated = self.now
                    fields.append("updated")
                bulk_update_with_history(updated, model, fields, batch_size=500, default_change_reason=CHANGE_REASON)
        except IntegrityError as error:
            raise ContentError("content", 0, f"{spec.label}: the database refused the records: {error}") from error
        self.report.add(model, "created", len(created))
        self.report.add(model, "updated", len(updated))
        self.written[model] += created + updated


class SyncConflictError(ContentError):
    """The database and the files changed the same records differently: the load writes nothing."""

    def __init__(self, conflicts):
        lines = [line for change in conflicts[:SHOWN_CONFLICTS] for line in change.lines()]
        more = [f"… and {len(conflicts) - SHOWN_CONFLICTS} more"] if len(conflicts) > SHOWN_CONFLICTS else []
        shown = "\n".join(f"  {line}" for line in lines + more)
        super().__init__(
            "content",
            0,
            f"{len(conflicts)} records were changed both in the admin and in the files since the last load "
            f"or export of this directory:\n{shown}\n"
            "To keep the admin's versions, run export_content on this directory and merge the files' changes "
            "by hand (git diff); or pass --force to take the files' versions and discard the admin's.",
        )
        self.conflicts = conflicts


def _lock_loads():
    """Two loads never interleave: the second waits for the first (PostgreSQL advisory lock).

    On SQLite every transaction begins IMMEDIATE (see settings), which takes the write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def _plan(directory, files, force, reset, now):
    """(the plan, the files' rows read, those not settled, their base): see kb.content.unchanged.

    When the load would delete records, the settled records that refer to them are found in the
    database (kb.content.referrers); then their files are read too and the load planned again, so
    the references are checked as a load of every file would check them.
    """
    read_always = {f"sources/{slug}.yaml" for slug, capture in source_captures().items() if capture.usable}
    while True:
        settling = Settling(
            load_base_texts(directory), load_file_hashes(directory), files, fingerprint, read=read_always
        )
        database = database_content(leave_out=settling.settles)
        base = settling.base()
        read = read_content(directory, skip=settling.skipped(base))
        content = _unsettled(read, settling.settled)
        plan = plan_load(content, base, database, force, reset, now, settling.settled)
        if not plan.removed or plan.refused or not settling.any:
            return plan, read, content, base
        referring = referring_files(plan.removed, database.pks, settling.settled)
        if not referring:
            return plan, read, content, base
        read_always = read_always | referring
        del database, plan, content, base, settling, read


def _unsettled(content, settled):
    left = ContentSet()
    for model, rows in content.rows.items():
        left.rows[model] = [row for row in rows if key_text(row.key) not in settled[model]]
    return left


def _refresh(written):
    """The read model's cells and the search documents the load's writes touch.

    A load that only created or updated a few records (an edit) notes them as the admin's saves
    would (kb.knowledge.signals, kb.site.search_index); a larger one has every cell compared and
    the search index rebuilt. What the load deleted is done already: a deletion sends the
    signals of every record it takes (cascades too), which refresh their cells and forget their
    search documents as the admin's deletions do (Loader._delete).
    """
    instances = [(model, obj) for model, objs in written.items() for obj in objs]
    if len(instances) > FEW_WRITES or any(obj.pk is None for _, obj in instances):
        content_changed(everything=True)  # cells compared with the database: only those that differ change
        search_index.rebuild()
        return
    conditions = defaultdict(Q)
    with bulk_write():
        for model, obj in instances:
            content_changed(sender=model, instance=obj)
            for kind, condition in search_index.DEPENDANTS.get(model, _no_documents)(obj.pk):
                conditions[kind] |= condition
    for kind, condition in conditions.items():
        search_index.refresh(kind, condition)


def _no_documents(pk):
    return []


def load_content(directory, force=False, reset=False, progress=None):
    """Bring ``directory`` into the database, in one transaction, keeping the admin's work.

    Raises ContentError for a broken file, SyncConflictError when both sides changed a record
    (unless ``force``); in both cases nothing is written. ``reset`` makes the database exactly
    the files, discarding (and reporting) every change made in the admin.
    """
    with transaction.atomic():
        _lock_loads()
        now = timezone.now()
        files = file_hashes(directory)
        plan, read, content, base = _plan(directory, files, force, reset, now)
        if plan.refused:
            raise SyncConflictError(plan.conflicts)
        loader = Loader(plan, progress=progress, now=now)
        report = loader.run()
        rows = (row for spec in SPECS for row in content.rows[spec.model])
        record_sync(directory, now, True, files, rows, base=base)
        verify_loaded(read)  # h10: excerpts checked against stored captures (kb/evidence/verification.py)
        if report.changed:
            _refresh(loader.written)
        # Checks that follow a write (e.g. excerpt verification) belong here, inside the transaction.
    logger.info(
        "load_content %s: %s",
        directory,
        "; ".join(report.lines()),
        extra={"directory": str(directory), "load_changed": report.changed, "kept": len(report.kept)},
    )
    return report
