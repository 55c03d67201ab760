"""The full-text search index: one :class:`~kb.knowledge.models.SearchDocument` per searchable object.

What each object's document says (its title is weighted above its body by both engines):

========== ======================================== ==============================================
kind       title                                    body
========== ======================================== ==============================================
subject    name                                     summary · kind name
dimension  name                                     description · group name
claim      subject · dimension: cell                body, editor's note (public only when published)
excerpt    source title · speaker · locator         the quoted text
snippet    task title · subject                     explanation, code
========== ======================================== ==============================================

The database keeps its own full-text structures in step with ``kb_searchdocument``
(PostgreSQL: a generated tsvector column with a GIN index; SQLite: an FTS5 table fed by
triggers; see migration 0003), so this module only writes plain rows:

- :func:`rebuild` replaces every document in bulk; bulk writers (``load_content``, the
  synthetic generator) call it after writing.
- :func:`connect` wires post_save/post_delete signals so that a single save or delete (the
  admin) updates the documents it touches, including dependants: renaming a subject
  rewrites the documents of its claims and snippets in bulk.
"""

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections, router, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.signals import post_delete, post_save

from kb.knowledge import models as m

BATCH = 2000

# Every C0 and C1 control character (\x02 and \x03 are the highlight sentinels of kb.site.search),
# plus the Unicode line and paragraph separators; all become spaces.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Markdown punctuation that means nothing to a reader of a search snippet.
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKDOWN_MARKS = re.compile(r"(?<!\w)[*_`]+|[*_`]+(?!\w)|^#+\s|^>\s?", re.MULTILINE)


def clean(text):
    """Indexable text: no control characters, whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


def clean_markdown(text):
    text = _MARKDOWN_LINK.sub(r"\1", text or "")
    return clean(_MARKDOWN_MARKS.sub("", text))


# Document ids are not a sequence: each kind owns one range of ids (kind number * ID_SPAN +
# object id), so a search can scan one kind's stretch of the full-text index (SQLite's FTS5
# filters on rowid ranges, not on columns of the content table) and a document's id is known
# without reading it.
ID_SPAN = 10**15
KIND_NUMBERS = {kind: number for number, kind in enumerate(m.SearchKind.values, 1)}


def document_id(kind, object_id):
    return KIND_NUMBERS[kind] * ID_SPAN + object_id


def document_id_range(kind):
    """(lowest, highest) id a document of ``kind`` can have."""
    low = KIND_NUMBERS[kind] * ID_SPAN
    return low, low + ID_SPAN - 1


def _join(*parts, sep=" "):
    return sep.join(part for part in parts if part)


def label_last(text, label):
    """A body whose label (a subject's kind, a dimension's group) stays searchable but never reads as
    the start of its text in a result snippet ("An asynchronous … · Web framework")."""
    return _join(text, label, sep=" · ")


@dataclass(frozen=True)
class Spec:
    """How one kind of object becomes documents: the columns read, and the document built from them."""

    kind: str
    model: type
    columns: tuple  # values_list() paths; the first is the primary key
    build: Callable  # row (without the primary key) -> (title, body, public)

    def rows(self, condition=None, using=None):
        queryset = self.model._default_manager.using(using or router.db_for_write(self.model))
        if condition is not None:
            queryset = queryset.filter(condition)
        return queryset.order_by().values_list(*self.columns).iterator(chunk_size=BATCH)

    def documents(self, condition=None, using=None):
        for pk, *values in self.rows(condition, using):
            title, body, public = self.build(*values)
            yield m.SearchDocument(
                id=document_id(self.kind, pk),
                kind=self.kind,
                object_id=pk,
                title=clean(title)[:400],
                body=clean(body),
                public=public,
            )


SPECS = {
    spec.kind: spec
    for spec in [
        Spec(
            m.SearchKind.SUBJECT,
            m.Subject,
            ("pk", "name", "kind__name", "summary"),
            lambda name, kind, summary: (name, label_last(clean_markdown(summary), kind), True),
        ),
        Spec(
            m.SearchKind.DIMENSION,
            m.Dimension,
            ("pk", "name", "group__name", "description"),
            lambda name, group, description: (name, label_last(clean_markdown(description), group), True),
        ),
        Spec(
            m.SearchKind.CLAIM,
            m.Claim,
            ("pk", "subject__name", "dimension__name", "cell", "body", "editor_note", "status"),
            lambda subject, dimension, cell, body, note, status: (
                f"{subject} · {dimension}: {cell}",
                _join(clean_markdown(body), clean_markdown(note)),
                status == m.Status.PUBLISHED,
            ),
        ),
        Spec(
            m.SearchKind.EXCERPT,
            m.Excerpt,
            ("pk", "source__title", "speaker", "locator", "text"),
            lambda source, speaker, locator, text: (_join(source, speaker, locator, sep=" · "), text, True),
        ),
        Spec(
            m.SearchKind.SNIPPET,
            m.Snippet,
            ("pk", "task__title", "subject__name", "explanation", "code"),
            lambda task, subject, explanation, code: (
                f"{task} · {subject}",
                _join(clean_markdown(explanation), code),
                True,
            ),
        ),
    ]
}


def _create(documents, using):
    batch = []
    created = 0
    for document in documents:
        batch.append(document)
        if len(batch) >= BATCH:
            m.SearchDocument.objects.using(using).bulk_create(batch)
            created += len(batch)
            batch = []
    if batch:
        m.SearchDocument.objects.using(using).bulk_create(batch)
        created += len(batch)
    return created


def rebuild(using=None):
    """Replace every search document with one built from the content, in bulk; return the count."""
    using = using or router.db_for_write(m.SearchDocument)
    with transaction.atomic(using=using):
        m.SearchDocument.objects.using(using).all().delete()
        created = sum(_create(spec.documents(using=using), using) for spec in SPECS.values())
        connection = connections[using]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Move the new entries from the GIN index's pending list into the index proper (else
                # every search scans the list until autovacuum runs), and refresh the planner's statistics.
                cursor.execute("SELECT gin_clean_pending_list('kb_searchdocument_vector_gin')")
                cursor.execute("ANALYZE kb_searchdocument")
        elif connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                # Merge the FTS5 segments and drop the deleted entries the rebuild left behind: a
                # search after a rebuild of 100,000 documents is three times faster.
                cursor.execute("INSERT INTO kb_search_fts (kb_search_fts) VALUES ('optimize')")
    return created


def refresh(kind, condition, using=None):
    """Bring the documents of the ``kind`` objects matching ``condition`` up to date, in bulk.

    Writes only what differs; returns the number of documents created or updated.
    """
    spec = SPECS[kind]
    using = using or router.db_for_write(m.SearchDocument)
    desired = {document.object_id: document for document in spec.documents(condition, using)}
    if not desired:
        return 0
    existing = m.SearchDocument.objects.using(using).filter(kind=kind)
    if len(desired) <= 500:
        existing = existing.filter(object_id__in=list(desired))
    else:
        existing = existing.filter(
            object_id__in=spec.model._default_manager.using(using).filter(condition).values("pk")
        )
    changed = []
    for document in existing.only("pk", "object_id", "title", "body", "public"):
        new = desired.pop(document.object_id)
        if (document.title, document.body, document.public) != (new.title, new.body, new.public):
            document.title, document.body, document.public = new.title, new.body, new.public
            changed.append(document)
    with transaction.atomic(using=using):
        if changed:
            m.SearchDocument.objects.using(using).bulk_update(changed, ["title", "body", "public"], batch_size=500)
        _create(desired.values(), using)
    return len(changed) + len(desired)


def forget(kind, object_id, using=None):
    using = using or router.db_for_write(m.SearchDocument)
    m.SearchDocument.objects.using(using).filter(kind=kind, object_id=object_id).delete()


def forget_orphans(kind, using=None):
    """Delete the documents of ``kind`` whose object is gone; return their object ids."""
    using = using or router.db_for_write(m.SearchDocument)
    low, high = document_id_range(kind)
    model = SPECS[kind].model
    orphans = m.SearchDocument.objects.using(using).filter(
        ~Exists(model._default_manager.using(using).filter(pk=OuterRef("object_id"))), id__gte=low, id__lte=high
    )
    gone = set(orphans.values_list("object_id", flat=True))
    if gone:
        orphans.delete()
    return gone


# Incremental maintenance --------------------------------------------------------------------

# For a saved instance: which documents to refresh, as (kind, condition) pairs.
DEPENDANTS = {
    m.Subject: lambda pk: [
        ("subject", Q(pk=pk)),
        ("claim", Q(subject_id=pk)),
        ("snippet", Q(subject_id=pk)),
    ],
    m.SubjectKind: lambda pk: [("subject", Q(kind_id=pk))],
    m.Dimension: lambda pk: [("dimension", Q(pk=pk)), ("claim", Q(dimension_id=pk))],
    m.DimensionGroup: lambda pk: [("dimension", Q(group_id=pk))],
    m.Claim: lambda pk: [("claim", Q(pk=pk))],
    m.Source: lambda pk: [("excerpt", Q(source_id=pk))],
    m.Excerpt: lambda pk: [("excerpt", Q(pk=pk))],
    m.Task: lambda pk: [("snippet", Q(task_id=pk))],
    m.Snippet: lambda pk: [("snippet", Q(pk=pk))],
}
# Deleting one of these deletes its document; the rest cascade to (or protect) such objects.
DOCUMENT_KINDS = {spec.model: kind for kind, spec in SPECS.items()}


def object_saved(sender, instance, raw=False, using=None, **kwargs):
    if raw:
        return  # fixture loading: rebuild() afterwards
    for kind, condition in DEPENDANTS[sender](instance.pk):
        refresh(kind, condition, using=using)


# Documents already removed by forget_orphans() whose post_delete signal has yet to arrive.
_forgotten = threading.local()


def object_deleted(sender, instance, using=None, origin=None, **kwargs):
    """One query per deletion from the admin; one per kind for a bulk or cascading delete.

    Django sends post_delete for each object once every object of its model in the
    deletion is gone, so the first signal of a bulk delete can remove all their documents.
    """
    kind = DOCUMENT_KINDS[sender]
    forgotten = getattr(_forgotten, "keys", set())
    if (kind, instance.pk) in forgotten:
        forgotten.discard((kind, instance.pk))
    elif origin is None or origin is instance:
        forget(kind, instance.pk, using=using)
    else:
        _forgotten.keys = {(kind, pk) for pk in forget_orphans(kind, using=using)} - {(kind, instance.pk)}


def connect():
    for model in DEPENDANTS:
        uid = f"kb-search-index-{model._meta.label_lower}"
        post_save.connect(object_saved, sender=model, dispatch_uid=f"{uid}-save")
        if model in DOCUMENT_KINDS:
            post_delete.connect(object_deleted, sender=model, dispatch_uid=f"{uid}-delete")
