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

from kb.content.files import ContentSet, show_key
from kb.content.schema import DATES as DATE_FIELDS
from kb.content.schema import SPEC_BY_MODEL, SPECS, moment
from kb.knowledge import models as m

DATES = tuple(item.name for item in DATE_FIELDS)
META_FIELDS = ("order", *DATES)  # position and dates: not part of the fingerprint
SHOWN_CONFLICTS = 50
BATCH = 5000  # base rows written per statement


def directory_path(directory):
    return str(Path(directory).resolve())


def key_text(key):
    return json.dumps(key, ensure_ascii=False, separators=(",", ":"))


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


def load_base(directory):
    """What ``directory`` and the database agreed on at its last load or export: {model: {key: Base}}.

    A directory never loaded or exported has an empty base: nothing is known of its past, so a
    record both sides hold differently is a conflict, and one only the database holds is kept.
    """
    return _records(m.SyncDirectory.objects.filter(path=directory_path(directory)).first())


def _records(known):
    base = {spec.model: {} for spec in SPECS}
    if known is None:
        return base
    by_label = {spec.model._meta.label_lower: spec.model for spec in SPECS}
    for label, key, *values in known.records.values_list("model", "key", "fingerprint", "position", "added",
                                                          "changed").iterator(chunk_size=5000):  # fmt: skip
        if label in by_label:
            base[by_label[label]][_key_from_text(key)] = Base(*values)
    return base


def _key_from_text(text):
    def tuples(value):
        return tuple(tuples(part) for part in value) if isinstance(value, list) else value

    return tuples(json.loads(text))


def bases_of(content):
    """What a load or export of ``content`` leaves as the base of the next load: {model: {key: Base}}."""
    return {spec.model: {row.key: base_of(row) for row in content.rows[spec.model]} for spec in SPECS}


def record_sync(directory, content, when, loaded):
    """Remember what ``directory`` says now (``content``) as the base of its next load.

    Written with plain SQL in batches, in one transaction: a base holds a row per record
    (300,000 for 100,000 claims).
    """
    with transaction.atomic():
        _record_sync(directory, content, when, loaded)


def _record_sync(directory, content, when, loaded):
    sync_dir, _ = m.SyncDirectory.objects.get_or_create(path=directory_path(directory))
    setattr(sync_dir, "loaded" if loaded else "exported", when)
    sync_dir.save(update_fields=["loaded" if loaded else "exported"])
    existing = {
        (label, key): (pk, Base(*values))
        for pk, label, key, *values in sync_dir.records.values_list(
            "pk", "model", "key", "fingerprint", "position", "added", "changed"
        ).iterator(chunk_size=5000)
    }
    fields = {f.name: f for f in m.SyncRecord._meta.fields}

    def column(name, value):
        return fields[name].get_db_prep_value(value, connection)

    created, updated = [], []
    for model, bases in bases_of(content).items():
        label = model._meta.label_lower
        for key, base in bases.items():
            text = key_text(key)
            pk, old = existing.pop((label, text), (None, None))
            values = [base.fingerprint, base.position, column("added", base.added), column("changed", base.changed)]
            if pk is None:
                created.append([sync_dir.pk, label, text, *values])
            elif old != base:
                updated.append([*values, pk])
    quote = connection.ops.quote_name
    table = quote(m.SyncRecord._meta.db_table)
    names = ["directory_id", "model", "key", "fingerprint", "position", "added", "changed"]
    with connection.cursor() as cursor:
        for start in range(0, len(created), BATCH):
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(map(quote, names))}) VALUES ({', '.join(['%s'] * len(names))})",
                created[start : start + BATCH],
            )
        for start in range(0, len(updated), BATCH):
            cursor.executemany(
                f"UPDATE {table} SET {', '.join(f'{quote(n)} = %s' for n in names[3:])} WHERE {quote('id')} = %s",
                updated[start : start + BATCH],
            )
    gone = [pk for pk, _ in existing.values()]
    for start in range(0, len(gone), 1000):
        m.SyncRecord.objects.filter(pk__in=gone[start : start + 1000]).delete()


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


def plan_load(content, base, database, force=False, reset=False, now=None):
    """Decide, record by record, what a load of ``content`` does to the database (see the module's table).

    ``base`` is what this directory and the database agreed on at its last load or export
    (load_base): the files changed a record when they differ from it, the database when it
    differs from it. ``force`` settles conflicts for the files; ``reset`` also discards the
    database's other changes.
    """
    now = now or timezone.now()
    force = force or reset
    files, db = rows_by_key(content), rows_by_key(database)
    plan = Plan(ContentSet())
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
    """A kept record must not lose what it refers to, and the files must not refer to what the admin deleted."""
    changed = True
    while changed:
        changed = False
        for spec in SPECS:
            for key, (side, row) in list(target[spec.model].items()):
                for model, ref, name in _references(spec, row):
                    if ref in target[model]:
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
                    else:
                        continue  # a conflict already listed, or the files refer to nothing: the loader says so
                    plan.conflicts.append(change)
                    if changed:
                        break


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
