"""What each kind of record looks like, in the files and in the database.

One ``Spec`` per model names its natural key (slugs, never ids), the plain fields
and the foreign keys that content files carry. The loader and the exporter both
work from these, so the two directions cannot drift apart.
"""

from dataclasses import dataclass, field
from functools import cached_property

from kb.knowledge import models as m


@dataclass(frozen=True)
class Spec:
    model: type
    key: tuple  # model fields forming the natural key (foreign keys stand for their target's key)
    fields: tuple = ()  # plain fields carried by files (the readers may group some: a source's capture block)
    refs: dict = field(default_factory=dict)  # foreign key field -> target model, outside the key
    late_refs: dict = field(default_factory=dict)  # foreign keys to the same model, set once all its rows exist

    @property
    def label(self):
        return self.model._meta.verbose_name

    @cached_property
    def key_refs(self):
        """Foreign keys that are part of the natural key, with their target models."""
        return {name: self.model._meta.get_field(name).related_model for name in self.key if self.is_fk(name)}

    def is_fk(self, name):
        return self.model._meta.get_field(name).is_relation


# In dependency order: a spec's key and refs only refer to specs before it; its late_refs (to its
# own model, e.g. a claim's superseded_by) are set once all its rows exist.
SPECS = [
    Spec(m.SubjectKind, key=("slug",), fields=("name", "description", "order")),
    Spec(
        m.Subject, key=("slug",), fields=("name", "summary", "homepage", "first_release"), refs={"kind": m.SubjectKind}
    ),
    Spec(m.SubjectAlias, key=("slug",), refs={"subject": m.Subject}),
    Spec(m.SubjectRelation, key=("subject", "kind", "target")),
    Spec(m.DimensionGroup, key=("slug",), fields=("name", "description", "order")),
    Spec(m.Dimension, key=("slug",), fields=("name", "description", "order"), refs={"group": m.DimensionGroup}),
    Spec(
        m.Source,
        key=("slug",),
        fields=(
            "title",
            "kind",
            "author",
            "publisher",
            "url",
            "licence",
            "published",
            "updated_on",
            "captured",
            "archive",
            "capture_sha256",
            "capture_characters",
            "notes",
        ),
    ),
    Spec(m.Excerpt, key=("source", "key"), fields=("text", "locator", "speaker", "order", "added", "changed")),
    Spec(
        m.Claim,
        key=("subject", "key"),
        fields=(
            "cell",
            "support",
            "applies_to",
            "body",
            "editor_note",
            "status",
            "outdated",
            "outdated_since",
            "added",
            "changed",
            "reviewed",
            "order",
        ),
        refs={"dimension": m.Dimension},
        late_refs={"superseded_by": m.Claim},
    ),
    Spec(m.Evidence, key=("claim", "excerpt"), fields=("stance", "order")),
    Spec(m.Task, key=("slug",), fields=("title", "description", "order")),
    Spec(
        m.Snippet,
        key=("task", "subject", "language"),
        fields=(
            "code",
            "explanation",
            "source_note",
            "runnable",
            "not_runnable_reason",
            "order",
            "added",
            "changed",
        ),
        refs={"derived_from": m.Excerpt},
    ),
    Spec(m.FeaturedComparison, key=("path",), fields=("title", "note", "order")),
    Spec(m.SynonymGroup, key=("term",), fields=("words", "note", "order")),
]

SPEC_BY_MODEL = {spec.model: spec for spec in SPECS}
