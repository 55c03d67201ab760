"""What a comparison cell tells, closed and opened: verification, each quote once, outdated claims apart."""

import re

from django.urls import reverse

from kb.evidence import verification
from kb.evidence.verification import SourceCapture
from kb.knowledge import models as m


def cell_html(client, dom_id="widgets--alpha"):
    html = client.get(reverse("kb:compare", kwargs={"spec": ["alpha", "beta"]})).content.decode()
    return re.search(rf'<td id="{dom_id}".*?</td>', html, re.S).group(0)


def test_a_quote_says_whether_it_was_verified(client, sample_kb):
    claim = m.Claim.objects.get(subject__slug="alpha", dimension__slug="widgets", outdated=False)
    excerpt = claim.evidence.first().excerpt
    assert "Never captured" in cell_html(client)  # the sample source records no capture
    capture = SourceCapture(excerpt.source.slug, "", "ab12" * 16, "Some words. " + excerpt.text + " More words.")
    assert verification.record([excerpt], {excerpt.source.slug: capture}) == [excerpt]
    cell = cell_html(client)  # verification bumps the content generation: the kept page and column go
    assert "Verified" in cell and "(ab12ab12)" in cell
    assert 'title="Found word for word in the capture (SHA-256 ' + "ab12" * 16 + '), held by this server."' in cell
    assert "✓</span> Verified" not in cell  # the mark is drawn once, by the stylesheet


def test_each_quote_shows_once_then_the_claims_it_bears_on(client, sample_kb):
    claim = m.Claim.objects.get(subject__slug="alpha", dimension__slug="widgets", outdated=False)
    evidence = claim.evidence.first()
    other = m.Claim.objects.create(
        subject=claim.subject, dimension=claim.dimension, key="widgets-too", cell="Widgets, again",
        support=m.Support.PARTIAL, status=m.Status.PUBLISHED,
    )  # fmt: skip
    m.Evidence.objects.create(claim=other, excerpt=evidence.excerpt, stance=m.Stance.QUALIFIES)
    cell = cell_html(client)
    assert cell.count(f">{evidence.excerpt.text}</blockquote>") == 1
    bears = re.search(r'<ul class="cmp-bears">.*?</ul>', cell, re.S).group(0)
    assert "Supports “" in bears and "Qualifies “Widgets, again”" in bears


def test_outdated_claims_are_set_apart_and_drive_nothing_in_the_closed_cell(client, sample_kb):
    claim = m.Claim.objects.get(subject__slug="alpha", dimension__slug="widgets", outdated=False)
    m.Claim.objects.create(
        subject=claim.subject, dimension=claim.dimension, key="old-widgets", cell="No widgets at all",
        support=m.Support.NOT_PROVIDED, status=m.Status.PUBLISHED, outdated=True, outdated_since="Alpha 2.0",
        superseded_by=claim, applies_to="Alpha < 2.0",
    )  # fmt: skip
    cell = cell_html(client)
    summary = cell[: cell.index("</summary>")]
    assert "No widgets at all" not in summary and "badge--not-provided" not in summary
    assert "1 outdated" in summary
    outdated = re.search(r'<div class="cmp-outdated".*?</div>', cell, re.S).group(0)
    assert "utdated since Alpha 2.0" in outdated and "No widgets at all" in outdated and "Alpha &lt; 2.0" in outdated
    assert f'Superseded by <a href="{claim.get_absolute_url()}">' in outdated
