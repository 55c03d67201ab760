"""Status changes in one place (kb.editing.publishing.set_status): history, cache generation and search follow."""

import pytest
from django.urls import reverse

from kb.editing import publishing
from kb.knowledge import models as m
from kb.site import search as kb_search

pytestmark = pytest.mark.django_db


def claims_found(query):
    return [str(item) for group in kb_search.search(query).groups if group.kind == "claims" for item in group.items]


def admin_action(admin_client, action, claim):
    data = {"action": action, "_selected_action": [claim.pk]}
    response = admin_client.post(reverse("admin:kb_claim_changelist"), data)
    assert response.status_code == 302


def test_search_follows_the_admin_publish_and_unpublish_actions(admin_client, sample_kb):
    draft = m.Claim.objects.get(subject__slug="alpha", key="fast-start")
    assert claims_found("fast enough") == []
    admin_action(admin_client, "publish", draft)
    assert claims_found("fast enough") == ["Alpha · Start-up time: Fast enough to start"]
    admin_action(admin_client, "unpublish", draft)
    assert claims_found("fast enough") == []
    assert m.Claim.objects.get(pk=draft.pk).status == m.Status.DRAFT


def test_set_status_records_history_and_bumps_the_generation(admin_user, sample_kb):
    claims = m.Claim.objects.filter(subject__slug="alpha")
    before = m.ContentVersion.objects.current()[0]
    changed = publishing.set_status(claims, m.Status.REVIEW, user=admin_user, reason="checking")
    assert {claim.key for claim in changed} == set(claims.values_list("key", flat=True))
    assert m.ContentVersion.objects.current()[0] == before + 1  # one bump for the whole batch
    record = m.Claim.history.filter(key="widgets", subject__slug="alpha").latest("history_date")
    assert (record.status, record.history_user, record.history_change_reason) == ("review", admin_user, "checking")
    assert (
        publishing.set_status(m.Claim.objects.filter(subject__slug="alpha"), m.Status.REVIEW) == []
    )  # nothing to change
    assert m.ContentVersion.objects.current()[0] == before + 1


def test_the_publish_action_keeps_the_evidence_gate(admin_client, sample_kb):
    draft = m.Claim.objects.get(subject__slug="alpha", key="fast-start")
    draft.evidence.all().delete()
    admin_action(admin_client, "publish", draft)
    assert m.Claim.objects.get(pk=draft.pk).status == m.Status.DRAFT
