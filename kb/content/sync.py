"""Three-way sync between a content directory and the database, record by record.

The rule: a load of DIR applies what DIR's files changed since DIR was last loaded or
exported, keeps what the database changed since then, and where both changed the same
record differently it writes nothing and names the conflict (unless ``--force``).

For every record the loader knows three versions: what the directory said at its last
load or export (the *base*, a fingerprint kept in ``SyncRecord`` per directory), what the
database holds now (kb.content.database, read straight from the tables), and what the
files hold now. Both sides are rows in the one form the declarations give
(kb.content.schema), so they compare field by field.

=============================  =========================================================
files / database since base    the load
=============================  =========================================================
neither changed, or both same  nothing to do
only the files changed         applies the files (creates, updates or deletes)
only the database changed      keeps the database's version (admin work, never undone)
both changed, differently      a conflict: nothing is written; ``--force`` takes the files
=============================  =========================================================

A record's position and dates follow a simpler rule: the files' value when the files
changed it since the base, the database's otherwise. A record the files create without
dates gets the load's time. A directory never loaded or exported before has an empty base.
"""

import dataclasses
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from kb.content.files import ContentSet, key_text, show_key
from kb.content.schema import DATES as DATE_FIELDS
from kb.content.schema import SPEC_BY_MODEL, SPECS, moment
from kb.knowledge import models as m

DATES = tuple(item.name for item in DATE_FIELDS)
META_FIELDS = ("order", *DATES)  # position and dates: not part of the fingerprint
SHOWN_CONFLICTS = 50
BATCH = 5000  # base rows written per statement
FILE = "file"  # SyncRecord.model of a file's SHA-256 (its key: the file's path in the directory)


def directory_path(directory):
    return str(Path(directory).resolve())


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(part) for part in value]
    if isinstance(value, datetime.datetime):
        return moment(value).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def fingerprint(row):
    """The content of a row (everything but its position and dates), as 64 hex digits; taken once per row."""
    if not row.fingerprint:
        values = {name: _plain(value) for name, value in row.values.items() if name not in META_FIELDS}
        text = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        row.fingerprint = hashlib.sha256(text.encode()).hexdigest()
    return row.fingerprint


def rows_by_key(content):
    return {spec.model: {row.key: row for row in content.rows[spec.model]} for spec in SPECS}


@dataclass(frozen=True)
class Base:
    fingerprint: str
    position: int | None
    added: datetime.datetime | None
    changed: datetime.datetime | None


def base_of(row):
    return Base(fingerprint(row), row.values.get("order"), moment(row.values.get("added")),
                moment(row.values.get("changed")))  # fmt: skip


def load_base_texts(directory):
    """What ``directory`` and the database agreed on at its last load or export: {model: {key text: Base}}.

    Keys are texts (key_text; kb.content.unchanged parses those of the records not settled). A
    directory never loaded or exported has an empty base: nothing is known of its past, so a
    record both sides hold differently is a conflict, and one only the database holds is kept.
    """
    base = {spec.model: {} for spec in SPECS}
    by_label = {spec.model._meta.label_lower: spec.model for spec in SPECS}
    records = m.SyncRecord.objects.filter(directory__path=directory_path(directory)).exclude(model=FILE)
    for label, key, *values in records.values_list("model", "key", "fingerprint", "position", "added",
                                                   "changed").iterator(chunk_size=BATCH):  # fmt: skip
        if label in by_label:
            base[by_label[label]][key] = Base(*values)
    return base


def load_file_hashes(directory):
    """{relative path: SHA-256 of its bytes} of ``directory``'s files at its last load or export."""
    records = m.SyncRecord.objects.filter(directory__path=directory_path(directory), model=FILE)
    return dict(records.values_list("key", "fingerprint"))


def bases_of(content):
    """What a load or export of ``content`` leaves as the base of the next load: {model: {key: Base}}."""
    return {spec.model: {row.key: base_of(row) for row in content.rows[spec.model]} for spec in SPECS}


COLUMNS = ("directory_id", "model", "key", "fingerprint", "position", "added", "changed")


def record_sync(directory, when, loaded, files, rows, base=None):
    """Remember what ``directory`` says now as the base of its next load, in one transaction.

    ``files`` holds the SHA-256 of each of its files ({relative path: hex}); ``rows`` the records
    its files hold. Without ``base`` (an export) the whole base is written anew, in batches as
    ``rows`` come. With ``base`` (a load: what load_base_texts gave, keys parsed, settled records
    left out of both, kb.content.unchanged) only what differs is written, and records of ``base``
    not in ``rows`` are removed; the settled records' base stays as it is.
    """
    with transaction.atomic():
        sync_dir, _ = m.SyncDirectory.objects.get_or_create(path=directory_path(directory))
        setattr(sync_dir, "loaded" if loaded else "exported", when)
        sync_dir.save(update_fields=["loaded" if loaded else "exported"])
        writer = _Writer(sync_dir.pk)
        if base is None:
            m.SyncRecord.objects.filter(directory=sync_dir).delete()
            for row in rows:
                writer.create(row.model._meta.label_lower, key_text(row.key), base_of(row))
            for path, sha in files.items():
                writer.create(FILE, path, Base(sha, None, None, None))
        else:
            _record_changes(writer, base, rows)
            old = load_file_hashes(directory)
            for path, sha in files.items():
                if path not in old:
                    writer.create(FILE, path, Base(sha, None, None, None))
                elif old.pop(path) != sha:
                    writer.update(FILE, path, Base(sha, None, None, None))
            for path in old:
                writer.delete(FILE, path)
        writer.flush()


def _record_changes(writer, base, rows):
    seen = {model: set() for model in base}
    for row in rows:
        seen[row.model].add(row.key)
        new, old = base_of(row), base[row.model].get(row.key)
        if old is None:
            writer.create(row.model._meta.label_lower, key_text(row.key), new)
        elif old != new:
            writer.update(row.model._meta.label_lower, key_text(row.key), new)
    for model, bases in base.items():
        for key in bases:
            if key not in seen[model]:
                writer.delete(model._meta.label_lower, key_text(key))


class _Writer:
    """Base records written with plain SQL, BATCH at a time (a base holds 300,000 rows for 100,000 claims)."""

    def __init__(self, directory_id):
        self.directory_id = directory_id
        self.pending = {"create": [], "update": [], "delete": []}
        fields = {f.name: f for f in m.SyncRecord._meta.fields}
        self.prepare = fields["added"].get_db_prep_value  # the same for "changed"
        quote = connection.ops.quote_name
        table = quote(m.SyncRecord._meta.db_table)
        where = f"{quote('directory_id')} = %s AND {quote('model')} = %s AND {quote('key')} = %s"
        self.sql = {
            "create": f"INSERT INTO {table} ({', '.join(map(quote, COLUMNS))}) VALUES ({', '.join(['%s'] * 7)})",
            "update": f"UPDATE {table} SET {', '.join(f'{quote(n)} = %s' for n in COLUMNS[3:])} WHERE {where}",
            "delete": f"DELETE FROM {table} WHERE {where}",
        }

    def _values(self, base):
        return [base.fingerprint, base.position, self.prepare(base.added, connection),
                self.prepare(base.changed, connection)]  # fmt: skip

    def create(self, label, key, base):
        self._add("create", [self.directory_id, label, key, *self._values(base)])

    def update(self, label, key, base):
        self._add("update", [*self._values(base), self.directory_id, label, key])

    def delete(self, label, key):
        self._add("delete", [self.directory_id, label, key])

    def _add(self, what, values):
        self.pending[what].append(values)
        if len(self.pending[what]) >= BATCH:
            self._write(what)

    def _write(self, what):
        if self.pending[what]:
            with connection.cursor() as cursor:
                cursor.executemany(self.sql[what], self.pending[what])
            self.pending[what] = []

    def flush(self):
        for what in ("delete", "update", "create"):
            self._write(what)


# Planning a load -----------------------------------------------------------------------


def _summary(row, limit=80):
    parts = []
    for name, value in row.values.items():
        if name in META_FIELDS or value in (None, "", False):
            continue
        text = show_key(value) if isinstance(value, tuple) else str(value)
        text = text if len(text) <= limit else text[: limit - 1] + "…"
        parts.append(f"{name}={text!r}")
    return ", ".join(parts)


def _differences(database_row, files_row, limit=80):
    lines = []
    for name in dict.fromkeys([*database_row.values, *files_row.values]):
        if name in META_FIELDS:
            continue
        ours, theirs = database_row.values.get(name), files_row.values.get(name)
        if _plain(ours) != _plain(theirs):
            shown = [show_key(v) if isinstance(v, tuple) else str(v) for v in (ours, theirs)]
            shown = [s if len(s) <= limit else s[: limit - 1] + "…" for s in shown]
            lines.append(f"{name}: database {shown[0]!r}, files {shown[1]!r}")
    return lines


@dataclass
class Change:
    """One record on which the database and the files disagree, and why."""

    spec: object
    key: tuple
    what: str  # what happened on each side
    details: list = field(default_factory=list)

    def lines(self):
        yield f"{self.spec.label} {show_key(self.key)!r}: {self.what}"
        for detail in self.details:
            yield f"    {detail}"


@dataclass
class Plan:
    """What a load writes: the files' rows to apply, the database records to keep, what it reports."""

    content: object  # a ContentSet-like object: .rows[model] = rows to make the database equal to
    keep: set = field(default_factory=set)  # (model, key) left exactly as the database has them
    db_meta: dict = field(default_factory=dict)  # (model, key) -> meta fields whose database value stays
    kept: list = field(default_factory=list)  # Changes: admin work kept
    conflicts: list = field(default_factory=list)  # Changes: both sides changed
    discarded: list = field(default_factory=list)  # Changes: admin work a --force load discards
    refused: bool = False  # conflicts and no --force: the load writes nothing
    settled: dict = field(default_factory=dict)  # model -> key texts of records neither side changed (unchanged.py)
    removed: dict = field(default_factory=dict)  # model -> keys of the database's records not in the result

    def database_after(self, database):
        """What the database holds once this plan is written: {model: {key: row}} (see kb.content.loader)."""
        after = {}
        for spec in SPECS:
            rows = {row.key: row for row in self.content.rows[spec.model]}
            for row in database.rows[spec.model]:
                if (spec.model, row.key) in self.keep:
                    rows[row.key] = row
            after[spec.model] = rows
        return after


def plan_load(content, base, database, force=False, reset=False, now=None, settled=None):
    """Decide, record by record, what a load of ``content`` does to the database (see the module's table).

    ``base`` is what this directory and the database agreed on at its last load or export
    (load_base_texts, keys parsed): the files changed a record when they differ from it, the database when it
    differs from it. ``force`` settles conflicts for the files; ``reset`` also discards the
    database's other changes. ``settled`` ({model: key texts}) names records left out of all three
    because neither side changed them (kb.content.unchanged): the database keeps them as they are.
    """
    now = now or timezone.now()
    force = force or reset
    files, db = rows_by_key(content), rows_by_key(database)
    plan = Plan(ContentSet(), settled=settled or {spec.model: set() for spec in SPECS})
    target = {spec.model: {} for spec in SPECS}  # key -> ("files", row) | ("database", row)
    admin_deleted = {spec.model: {} for spec in SPECS}  # key -> files row of a record deleted in the admin only
    for spec in SPECS:
        model = spec.model
        f_rows, d_rows, b_rows = files[model], db[model], base[model]
        for key in dict.fromkeys([*f_rows, *d_rows, *b_rows]):
            f, d, b = f_rows.get(key), d_rows.get(key), b_rows.get(key)
            fp_f = fingerprint(f) if f else None
            fp_d = fingerprint(d) if d else None
            fp_b = b.fingerprint if b else None
            if fp_f == fp_d or fp_d == fp_b:
                if f:  # both sides agree, or only the files changed it: the files
                    target[model][key] = ("files", f)
            elif fp_f == fp_b and reset:
                what = ("added" if b is None else "changed") if d else "deleted"
                plan.discarded.append(Change(spec, key, f"{what} in the admin", [_summary(d)] if d else []))
                if f:
                    target[model][key] = ("files", f)
            elif fp_f == fp_b:  # only the database changed: the admin's work stays
                if d:
                    target[model][key] = ("database", d)
                    what = "added in the admin" if b is None else "changed in the admin"
                    plan.kept.append(Change(spec, key, what, [_summary(d)]))
                else:
                    admin_deleted[model][key] = f
                    plan.kept.append(Change(spec, key, "deleted in the admin (stays deleted)"))
            else:
                change = _conflict(spec, key, f, d, b)
                plan.conflicts.append(change)
                if force:
                    plan.discarded.append(change)
                    if f:
                        target[model][key] = ("files", f)
    _check_references(plan, target, admin_deleted, files, force)
    for model, rows in db.items():
        if gone := [key for key in rows if key not in target[model]]:
            plan.removed[model] = gone
    if plan.conflicts and not force:
        plan.refused = True
        return plan
    for spec in SPECS:
        model = spec.model
        for key, (side, row) in target[model].items():
            if side == "database":
                plan.keep.add((model, key))
                continue
            row = dataclasses.replace(row, values=dict(row.values))  # the files' own values stay the next base
            _settle_meta(plan, model, key, row, db[model].get(key), base[model].get(key), now)
            plan.content.rows[model].append(row)
    return plan


def _conflict(spec, key, f, d, b):
    if f and d:
        what = "changed in the admin and in the files"
        if b is None:
            what = "added in the admin and in the files, differently"
        return Change(spec, key, what, _differences(d, f))
    if d:
        return Change(spec, key, "changed in the admin, deleted in the files", [f"database: {_summary(d)}"])
    return Change(spec, key, "deleted in the admin, changed in the files", [f"files: {_summary(f)}"])


def _references(spec, row):
    """(target model, target key, field) for each record ``row`` refers to."""
    for name, target in spec.key_refs.items():
        yield target, row.key[spec.key.index(name)], name
    for name, target in (spec.refs | spec.late_refs).items():
        if row.values.get(name) is not None:
            yield target, row.values[name], name


def _check_references(plan, target, admin_deleted, files, force):
    """A kept record must not lose what it refers to, and the files must not refer to what the admin deleted.

    A files' record that refers to a record no side keeps (one the files delete, or one never known) is a
    broken content file: its file and line are named before anything is written, unless a conflict refuses
    the load anyway. Left to the loader, the reference would resolve to the row about to be deleted, and the
    deletion would take the referring record with it, unreported.
    """
    broken = []
    changed = True
    while changed:
        changed = False
        for spec in SPECS:
            for key, (side, row) in list(target[spec.model].items()):
                for model, ref, name in _references(spec, row):
                    if ref in target[model] or key_text(ref) in plan.settled[model]:
                        continue
                    other = SPEC_BY_MODEL[model]
                    if side == "database":
                        change = Change(spec, key, f"kept from the admin, but refers to {other.label} "
                                        f"{show_key(ref)!r} ({name}), which the files delete")  # fmt: skip
                        if force:
                            del target[spec.model][key]
                            plan.discarded.append(change)
                            changed = True
                    elif ref in admin_deleted[model]:
                        change = Change(spec, key, f"refers to {other.label} {show_key(ref)!r} ({name}), "
                                        "which was deleted in the admin")  # fmt: skip
                        if force:
                            target[model][ref] = ("files", admin_deleted[model].pop(ref))
                            plan.discarded.append(Change(other, ref, "deleted in the admin, restored from the files"))
                            changed = True
                    else:  # a conflict already listed, or the files refer to nothing
                        broken.append(row.error(f"{name} refers to unknown {other.label} {show_key(ref)!r}"))
                        continue
                    plan.conflicts.append(change)
                    if changed:
                        break
    if broken and (force or not plan.conflicts):
        raise broken[0]


def _settle_meta(plan, model, key, row, d, b, now):
    """Position and dates of a row the load writes: the files' when they changed them, else the database's."""
    if d is None:  # new in the database: the files' values, the load's time for missing dates
        for name in DATES:
            if name in row.values and row.values[name] is None:
                row.values[name] = now
        return
    kept = set()
    for name in META_FIELDS:
        if name not in row.values:
            continue
        value = row.values[name]
        if value is None:
            kept.add(name)  # the files give none: the database's stays (a content change is dated below)
            continue
        if b is None:
            continue  # nothing known of the files' past: their value
        base_value = b.position if name == "order" else getattr(b, name)
        if (moment(value) if name in DATES else value) == base_value:
            kept.add(name)  # the files did not change it: the database's value stays
    if "changed" in kept and fingerprint(row) != fingerprint(d):
        kept.discard("changed")
        row.values["changed"] = now  # the files changed the content but not its date: the change is new
    if kept:
        plan.db_meta[(model, key)] = kept
