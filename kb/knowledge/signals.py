"""Every saved or deleted piece of content bumps the content generation (see kb.ops.page_cache).

Bulk writes that send no signals (load_content, admin bulk actions, the synthetic
generator) call content_changed() themselves; bulk deletes, which send a signal per
row, run inside bulk_write() so that they bump once, not once per row.
"""

import threading
from contextlib import contextmanager

from django.db.models import Subquery
from django.db.models.signals import m2m_changed, post_delete, post_save

from kb.content.schema import CONTENT_MODELS
from kb.knowledge import models as m

_state = threading.local()


def content_changed(sender=None, **kwargs):
    """Bump the generation (and so invalidate every cached page); also the hook for bulk writes."""
    if kwargs.get("raw"):
        return  # fixture loading
    if getattr(_state, "bulk", 0):
        _state.changed = True
        return
    m.ContentVersion.objects.bump()
    stamp_history()


def stamp_history():
    """Claim versions written since the last bump get the generation that now shows them (one UPDATE)."""
    generation = m.ContentVersion.objects.filter(pk=1).values("generation")[:1]
    m.Claim.history.model.objects.filter(content_generation__isnull=True).update(
        content_generation=Subquery(generation)
    )


@contextmanager
def bulk_write():
    """Per-row signals inside only note the change; one bump follows the whole write."""
    _state.bulk = getattr(_state, "bulk", 0) + 1
    try:
        yield
    finally:
        _state.bulk -= 1
    if not _state.bulk and getattr(_state, "changed", False):
        _state.changed = False
        content_changed()


def connect():
    for model in CONTENT_MODELS:
        uid = f"kb-content-changed-{model._meta.label_lower}"
        post_save.connect(content_changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(content_changed, sender=model, dispatch_uid=f"{uid}-delete")
    m2m_changed.connect(content_changed, sender=m.Claim.excerpts.through, dispatch_uid="kb-content-changed-m2m")
