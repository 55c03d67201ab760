"""The unread files whose records refer to what a load deletes, found with one query per reference.

A load reads only the files that changed (kb.content.unchanged): the records of the others are
*settled*, kept as they are. When the load deletes records, a settled record may still refer to
one of them (a claim in an unchanged file quoting an excerpt a source's file no longer has). The
references are declared (kb.content.schema: a spec's ``key_refs``, ``refs`` and ``late_refs``), so
one query per model and reference, on the deleted records' primary keys, finds every row that
refers to them; the files of the settled ones are then read, and the sync's check
(kb.content.sync._check_references) names the referring record's file and line, as a load of
every file would. Nothing else is read.
"""

from kb.content.files import key_text
from kb.content.schema import SPEC_BY_MODEL, SPECS
from kb.content.unchanged import file_of

CHUNK = 500  # primary keys per query


def key_paths(spec, prefix=""):
    """The lookups that give a record's natural key, flattened (``claim__subject__slug``, ``claim__key``, …)."""
    for name in spec.key:
        if name in spec.key_refs:
            yield from key_paths(SPEC_BY_MODEL[spec.key_refs[name]], f"{prefix}{name}__")
        else:
            yield prefix + name


def key_from_paths(spec, values):
    """The natural key from the values of ``key_paths(spec)``, given as an iterator."""
    return tuple(
        key_from_paths(SPEC_BY_MODEL[spec.key_refs[name]], values) if name in spec.key_refs else next(values)
        for name in spec.key
    )


def referring_files(removed, pks, settled):
    """The files holding settled records that refer to a record of ``removed`` ({model: natural keys}).

    ``pks`` maps (model, natural key) to the primary key of each removed record (they are database
    rows a load read, kb.content.database); ``settled`` is {model: key texts} (kb.content.unchanged).
    """
    targets = {model: sorted(pks[(model, key)] for key in keys) for model, keys in removed.items()}
    found = set()
    for spec in SPECS:
        paths = None
        for name, target in (spec.key_refs | spec.refs | spec.late_refs).items():
            ids = targets.get(target)
            if not ids:
                continue
            paths = paths or list(key_paths(spec))
            column = spec.model._meta.get_field(name).attname
            for start in range(0, len(ids), CHUNK):
                referring = spec.model.objects.filter(**{f"{column}__in": ids[start : start + CHUNK]})
                for values in referring.order_by().values_list(*paths):
                    key = key_from_paths(spec, iter(values))
                    if key_text(key) in settled[spec.model]:
                        found.add(file_of(spec, key))
    found.discard(None)  # a folder always read holds no settled record
    return found
