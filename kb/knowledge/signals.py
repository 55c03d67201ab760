"""Every saved or deleted piece of content bumps the content generation and says what it touched.

A write notes what it touches (:class:`Touched`: claims, excerpts, sources, subjects...); when it
ends, the generation is bumped once and the listeners (kb.comparison.read_model: the cells it
touched get new versions) run, in the same transaction. A single save outside ``bulk_write()``
ends at once; a ``bulk_write()`` (load_content, the admin's edits and actions, bulk deletes, the
synthetic generator) ends when it exits. Bulk writers that send no signals say what they touched:
``content_changed(claims=[...])``, ``content_changed(excerpts=[...])``, or nothing, which means
everything may have changed (listeners then compare and rewrite only what differs).
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Subquery
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from kb.content.schema import CONTENT_MODELS
from kb.knowledge import models as m

SCOPES = ("claims", "excerpts", "sources", "subjects", "kinds", "dimensions", "groups")


@dataclass
class Touched:
    """What a write touched: the cells (subject id, dimension id) it names and the records they show."""

    cells: set = field(default_factory=set)
    claims: set = field(default_factory=set)
    excerpts: set = field(default_factory=set)
    sources: set = field(default_factory=set)
    subjects: set = field(default_factory=set)
    kinds: set = field(default_factory=set)
    dimensions: set = field(default_factory=set)
    groups: set = field(default_factory=set)
    everything: bool = False

    def __bool__(self):
        return self.everything or any(getattr(self, name) for name in ("cells", *SCOPES))

    @property
    def frame(self):
        """Whether the write may have changed the subjects, their kinds or the dimensions there are."""
        return self.everything or bool(self.subjects or self.kinds or self.dimensions)

    def note(self, sender, instance):
        """What saving or deleting ``instance`` touches."""
        if sender is m.Claim:
            self.claims.add(instance.pk)
            self.cells.add((instance.subject_id, instance.dimension_id))
            loaded = getattr(instance, "_loaded_content", None)
            if loaded is not None:  # where it was before this save (Claim.content_fields)
                fields = dict(zip(m.Claim.content_fields, loaded[0], strict=True))
                self.cells.add((fields["subject_id"], fields["dimension_id"]))
        elif sender is m.Evidence:
            self.claims.add(instance.claim_id)
        elif sender is m.Excerpt:
            self.excerpts.add(instance.pk)
        elif sender is m.Source:
            self.sources.add(instance.pk)
        elif sender is m.Subject:
            self.subjects.add(instance.pk)
        elif sender is m.SubjectKind:
            self.kinds.add(instance.pk)
        elif sender is m.Dimension:
            self.dimensions.add(instance.pk)
        elif sender is m.DimensionGroup:
            self.groups.add(instance.pk)


_state = threading.local()
_listeners = []


def on_content_change(listener):
    """``listener(touched, state)`` runs at the end of every content write, in its transaction, after the bump."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def _touched():
    touched = getattr(_state, "touched", None)
    if touched is None:
        touched = _state.touched = Touched()
    return touched


def content_changed(sender=None, instance=None, everything=False, **kwargs):
    """Note a change (a signal's ``instance``, or the scopes a bulk writer names) and end it unless in a bulk write.

    Called with neither an instance nor a scope, it means everything may have changed.
    """
    if kwargs.get("raw"):
        return  # fixture loading
    touched = _touched()
    if instance is not None and sender is not None:
        touched.note(sender, instance)
    scopes = {name: kwargs[name] for name in ("cells", *SCOPES) if kwargs.get(name)}
    for name, values in scopes.items():
        getattr(touched, name).update(values)
    if everything or (instance is None and not scopes):
        touched.everything = True
    if getattr(_state, "bulk", 0):
        _state.changed = True
        return
    _finish()


def _finish():
    touched, _state.touched = _touched(), None
    with transaction.atomic():
        m.ContentVersion.objects.bump(frame=touched.frame)
        stamp_history()
        state = m.ContentVersion.objects.state()
        for listener in _listeners:
            listener(touched, state)


def stamp_history():
    """Claim versions written since the last bump get the generation that now shows them (one UPDATE)."""
    generation = m.ContentVersion.objects.filter(pk=1).values("generation")[:1]
    m.Claim.history.model.objects.filter(content_generation__isnull=True).update(
        content_generation=Subquery(generation)
    )


@contextmanager
def bulk_write():
    """One transaction; per-row signals inside only note what they touch; one bump and one refresh end it."""
    with transaction.atomic():
        _state.bulk = getattr(_state, "bulk", 0) + 1
        try:
            yield
        except BaseException:
            _state.bulk -= 1
            if not _state.bulk:
                _state.changed, _state.touched = False, None
            raise
        _state.bulk -= 1
        if not _state.bulk and getattr(_state, "changed", False):
            _state.changed = False
            _finish()


def _successors_deleted(sender, instance, **kwargs):
    """A deleted claim leaves the cells that named it as their successor (SET_NULL sends no signal)."""
    touched = _touched()
    for subject_id, dimension_id in m.Claim.objects.filter(superseded_by=instance.pk).values_list(
        "subject_id", "dimension_id"
    ):
        touched.cells.add((subject_id, dimension_id))


def _evidence_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if reverse:  # an excerpt's claims
        content_changed(claims=set(pk_set or ()), excerpts={instance.pk})
    else:
        content_changed(claims={instance.pk})


def connect():
    for model in CONTENT_MODELS:
        uid = f"kb-content-changed-{model._meta.label_lower}"
        post_save.connect(content_changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(content_changed, sender=model, dispatch_uid=f"{uid}-delete")
    pre_delete.connect(_successors_deleted, sender=m.Claim, dispatch_uid="kb-claim-successors")
    m2m_changed.connect(_evidence_changed, sender=m.Claim.excerpts.through, dispatch_uid="kb-content-changed-m2m")
