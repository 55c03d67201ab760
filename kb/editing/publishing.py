"""Publishing: the one way to change many claims' status at once (the admin's actions use it)."""

from django.db import router, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from kb.knowledge import models as m
from kb.knowledge.signals import content_changed
from kb.site import search_index


def set_status(claims, status, user=None, reason=""):
    """Give the claims of the queryset ``claims`` ``status``.

    One bulk update (a bulk update sends no post_save, so this does what the signals
    would): a history record per claim (by ``user``, with ``reason``), one content
    generation bump, and the claims' search documents refreshed (published claims are
    found, unpublished ones no longer are). Returns the claims whose status changed;
    the others are left untouched.
    """
    using = router.db_for_write(m.Claim)
    now = timezone.now()
    changed = [claim for claim in claims.using(using).select_related("subject", "dimension") if claim.status != status]
    if not changed:
        return []
    for claim in changed:
        claim.status = status
        claim.updated = claim.changed = now
    with transaction.atomic(using=using):
        bulk_update_with_history(
            changed, m.Claim, ["status", "updated", "changed"], default_user=user, default_change_reason=reason
        )
        content_changed(claims=[claim.pk for claim in changed])
        search_index.refresh(m.SearchKind.CLAIM, Q(pk__in=[claim.pk for claim in changed]), using=using)
    return changed
