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


def database_content():
    """Every content record in the database as a ContentSet (row origins name the database)."""
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
        by_pk, late_ids, rows = {}, [], content.rows[spec.model]
        queryset = spec.model.objects.order_by().values_list("pk", *key_columns, *columns, *extra, *late)
        width = len(key_columns)
        for pk, *values in queryset.iterator(chunk_size=CHUNK):
            key = tuple(part if ref is None else ref[part] for ref, part in zip(key_refs, values, strict=False))
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
            if late:
                late_ids.append((found, rest[len(extra) :]))
            by_pk[pk] = key
            rows.append(Row(spec.model, key, found, "database", 0, f"{spec.label} {key!r}"))
        keys[spec.model] = by_pk
        for found, ids in late_ids:
            for name, value in zip(spec.late, ids, strict=True):
                found[name] = None if value is None else by_pk[value]
    _number_positions(content)
    return content


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
