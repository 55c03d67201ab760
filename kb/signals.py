"""Every saved or deleted piece of content bumps the content generation (see kb.page_cache).

Bulk writes that send no signals (load_content, admin bulk actions, the synthetic
generator) call ContentVersion.objects.bump() themselves.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save

from . import models as m

CONTENT_MODELS = (
    m.SubjectKind, m.Subject, m.SubjectAlias, m.SubjectRelation, m.DimensionGroup, m.Dimension,
    m.Source, m.Excerpt, m.Claim, m.Evidence, m.Task, m.Snippet,
)  # fmt: skip


def content_changed(sender=None, **kwargs):
    """Bump the generation (and so invalidate every cached page); also the hook for bulk writes."""
    if kwargs.get("raw"):
        return  # fixture loading
    m.ContentVersion.objects.bump()


def connect():
    for model in CONTENT_MODELS:
        uid = f"kb-content-changed-{model._meta.label_lower}"
        post_save.connect(content_changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(content_changed, sender=model, dispatch_uid=f"{uid}-delete")
    m2m_changed.connect(content_changed, sender=m.Claim.excerpts.through, dispatch_uid="kb-content-changed-m2m")
