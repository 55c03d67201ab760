"""The database as content rows: what the files would say, read straight from the tables.

One query per kind of record, driven by the declarations (kb.content.schema); foreign keys
become their targets' natural keys and values are normalised the way the reader normalises
a file's, so rows from here and rows from kb.content.files compare field by field. The
exporter writes these rows and the sync compares them with the files': nothing is written
to disk and read back.
"""

from kb.content.files import ContentSet, Row, file_rows, nested_rows
from kb.content.schema import FILES, SPECS, Ref

CHUNK = 5000


def database_content(leave_out=None):
    """Every content record in the database as a ContentSet (row origins name the database).

    ``leave_out(spec, row)``, when given, is asked about each row as it is read: a row it answers
    True for is not kept (a load's settled records, kb.content.unchanged), the rows kept keep
    the database's ``order`` rather than being numbered as the files would, and their primary
    keys are in ``content.pks`` (what a load deletes is found by them, kb.content.referrers).
    """
    content = ContentSet()
    keys = {}  # model -> {pk: natural key}
    for spec in SPECS:
        meta = spec.model._meta
        key_columns = [meta.get_field(name).attname for name in spec.key]
        fields = [f for f in spec.value_fields if f.attr not in spec.late]
        columns = [meta.get_field(f.attr).attname for f in fields]
        parent = [spec.parent] if spec.parent and spec.parent not in spec.key else []
        extra = [*parent, *(["order"] if "order" in spec.plain and "order" not in columns else [])]
        late = [meta.get_field(name).attname for name in spec.late]
        key_refs = [keys[spec.key_refs[name]] if name in spec.key_refs else None for name in spec.key]
        refs = [keys[f.type.target] if isinstance(f.type, Ref) else None for f in fields]
        parent_keys = keys[spec.refs[spec.parent]] if parent else None
        rows, width = content.rows[spec.model], len(key_columns)
        by_pk = keys[spec.model] = {}
        if late:  # references to the same model: every row's key first
            for pk, *values in spec.model.objects.order_by().values_list("pk", *key_columns).iterator(CHUNK):
                by_pk[pk] = _key(key_refs, values)
        queryset = spec.model.objects.order_by().values_list("pk", *key_columns, *columns, *extra, *late)
        for pk, *values in queryset.iterator(chunk_size=CHUNK):
            key = _key(key_refs, values)
            found = {}
            for item, ref, value in zip(fields, refs, values[width:], strict=False):
                if ref is None:
                    found[item.attr] = item.type.from_db(value)
                else:
                    found[item.attr] = None if value is None else ref[value]
            rest = values[width + len(fields) :]
            if parent:
                found[spec.parent] = parent_keys[rest[0]]
            if len(extra) > len(parent):
                found["order"] = rest[len(parent)]
            for name, value in zip(spec.late, rest[len(extra) :], strict=True):
                found[name] = None if value is None else by_pk[value]
            by_pk[pk] = key
            row = Row(spec.model, key, found, "database", 0, f"{spec.label} {key!r}")
            if leave_out is None:
                rows.append(row)
            elif not leave_out(spec, row):
                rows.append(row)
                content.pks[(spec.model, key)] = pk
    if leave_out is None:
        _number_positions(content)
    return content


def _key(key_refs, values):
    return tuple(part if ref is None else ref[part] for ref, part in zip(key_refs, values, strict=False))


def _number_positions(content):
    """Give each row the ``order`` the files would: its place in its list (or file), from 1."""
    children = nested_rows(content)

    def number(spec, rows, counters):
        for position, row in enumerate(rows, 1):
            if spec.order == "position":
                row.values["order"] = position
            elif spec.order == "file":
                row.values["order"] = counters[spec.model] = counters.get(spec.model, 0) + 1
            for nested in spec.children:
                number(nested.spec, children[(nested.spec.model, row.key)], counters)

    for file_type in FILES:
        for rows in file_rows(content, file_type).values():
            number(file_type.spec, rows, {})
