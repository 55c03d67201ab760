"""A cell's data computed fresh from the database: what kb.comparison.cell.Cell reads.

Two queries whatever the number of cells: the claims (with their subject, dimension and
successor) and their evidence (with excerpts and sources). Readers' cells hold published claims;
a staff preview's hold drafts too. The data is plain JSON, written in one canonical form, so
that two computations of an unchanged cell give the same bytes (and the same digest).
"""

import hashlib
import json
from collections import defaultdict

from kb.knowledge.models import Claim, Evidence, Status
from kb.knowledge.urls_memo import reverse

CLAIM_FIELDS = (
    "pk", "subject_id", "dimension_id", "key", "cell", "support", "status", "body_html", "editor_note_html",
    "applies_to", "outdated", "outdated_since", "reviewed", "added", "changed", "updated",
    "superseded_by__subject__slug", "superseded_by__key", "superseded_by__cell", "superseded_by__status",
    "subject__slug", "subject__name", "subject__kind__name",
    "dimension__slug", "dimension__name", "dimension__order", "dimension__group_id", "dimension__group__slug",
    "dimension__group__name", "dimension__group__order",
)  # fmt: skip
EVIDENCE_FIELDS = (
    "claim_id", "stance", "excerpt__key", "excerpt__text", "excerpt__locator", "excerpt__speaker",
    "excerpt__verification", "excerpt__verified_sha256", "excerpt__source__slug", "excerpt__source__title",
    "excerpt__source__kind", "excerpt__source__author", "excerpt__source__publisher", "excerpt__source__url",
    "excerpt__source__published", "excerpt__source__updated_on", "excerpt__source__captured",
)  # fmt: skip


def _url_pattern(name, *fixed):
    """reverse() once, then fill in the last (slug) argument by substitution: reverse() per claim is too slow."""
    placeholder = "url-slug-placeholder"
    pattern = reverse(name, args=[*fixed, placeholder])
    return lambda slug: pattern.replace(placeholder, slug)


def _claim_url(pattern, subject_slug, key):
    return pattern.replace("subject-placeholder", subject_slug).replace("key-placeholder", key)


def _iso(value):
    return value.isoformat() if value else None


def canonical(data):
    """The one text of a cell's data: what is stored, hashed and compared."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def compute_cells(claims, *, cells=None):
    """{(subject id, dimension id): data} of the cells of the claim queryset ``claims``.

    ``cells``: only these (subject id, dimension id) pairs (the queryset may hold more).
    Cells without a claim in ``claims`` are not in the result.
    """
    source_url = _url_pattern("kb:source")
    claim_pattern = reverse("kb:claim", args=["subject-placeholder", "key-placeholder"])
    by_cell = defaultdict(list)
    claim_cells = {}
    for row in claims.order_by("order", "key").values_list(*CLAIM_FIELDS):
        (
            pk, subject_id, dimension_id, key, text, support, status, body_html, editor_note_html, applies_to,
            outdated, outdated_since, reviewed, added, changed, updated, successor_subject, successor_key,
            successor_cell, successor_status, subject_slug, subject_name, kind_name, dimension_slug, dimension_name,
            dimension_order, group_id, group_slug, group_name, group_order,
        ) = row  # fmt: skip
        pair = (subject_id, dimension_id)
        if cells is not None and pair not in cells:
            continue
        data = by_cell.get(pair)
        if data is None:
            data = {
                "subject": {"id": subject_id, "slug": subject_slug, "name": subject_name, "kind": kind_name},
                "dimension": {
                    "id": dimension_id,
                    "slug": dimension_slug,
                    "name": dimension_name,
                    "sort": [group_order, group_name, dimension_order, dimension_name],
                    "group": {"id": group_id, "slug": group_slug, "name": group_name},
                },
                "claims": [],
                "excerpts": {},
                "sources": {},
            }
            by_cell[pair] = data
        successor = None
        if successor_key:
            shown = successor_status == Status.PUBLISHED
            successor = {
                "ref": f"{successor_subject}/{successor_key}",
                "url": _claim_url(claim_pattern, successor_subject, successor_key) if shown else "",
                "cell": successor_cell if shown else "",
            }
        claim = {
            "key": key,
            "url": _claim_url(claim_pattern, subject_slug, key),
            "cell": text,
            "support": support,
            "status": status,
            "body_html": body_html,
            "editor_note_html": editor_note_html,
            "applies_to": applies_to,
            "outdated": outdated,
            "outdated_since": outdated_since,
            "successor": successor,
            "added": _iso(added),
            "changed": _iso(changed or updated),
            "reviewed": _iso(reviewed),
            "evidence": [],
        }
        data["claims"].append(claim)
        claim_cells[pk] = (claim, data)
    if not claim_cells:
        return {}
    evidence = Evidence.objects.filter(claim_id__in=claims.values("pk")).order_by("order", "pk")
    for row in evidence.values_list(*EVIDENCE_FIELDS):
        (claim_id, stance, key, text, locator, speaker, verification, sha256, source_slug, *source_fields) = row
        found = claim_cells.get(claim_id)
        if found is None:
            continue
        claim, data = found
        ref = f"{source_slug}/{key}"
        claim["evidence"].append([stance, ref])
        data["excerpts"][ref] = {
            "key": key,
            "text": text,
            "locator": locator,
            "speaker": speaker,
            "verification": verification,
            "verified_sha256": sha256,
            "source": source_slug,
        }
        title, kind, author, publisher, url, published, updated_on, captured = source_fields
        data["sources"][source_slug] = {
            "title": title,
            "kind": kind,
            "author": author,
            "publisher": publisher,
            "url": url,
            "published": _iso(published),
            "updated_on": _iso(updated_on),
            "captured": _iso(captured),
            "page_url": source_url(source_slug),
        }
    return dict(by_cell)


def readers_claims():
    """The claims readers see: the read model's cells hold these."""
    return Claim.objects.published()


def cells_of_subjects(subject_ids, *, preview=False):
    """Fresh data of every cell of these subjects (a staff preview shows drafts too)."""
    return compute_cells(Claim.objects.visible(preview).filter(subject_id__in=list(subject_ids)))
