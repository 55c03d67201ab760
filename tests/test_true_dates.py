"""Issue 21 item 4: home "Recent changes", the admin and the feeds order and show the content's own dates.

A load stamps every row's ``updated`` with the load time; the claims' ``changed`` comes from the files.
These tests make the two disagree (the row touched last, the content changed first) and look at which wins.
"""

import re
from datetime import UTC, datetime

from django.urls import reverse

from kb.knowledge.models import Claim

OLD = datetime(2020, 3, 4, 5, 6, tzinfo=UTC)
NEW = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)


def _date_claims():
    """alpha/widgets changed long ago but its row touched last; beta/widgets changed recently, row untouched."""
    Claim.objects.filter(subject__slug="beta", key="widgets").update(changed=NEW)
    Claim.objects.exclude(subject__slug="beta", key="widgets").update(changed=OLD)
    alpha = Claim.objects.get(subject__slug="alpha", key="widgets")
    alpha.save(update_fields=["updated"])  # the row's time is now, as after a load
    return alpha


def test_home_recent_changes_follow_the_claims_changed_date(client, sample_kb):
    _date_claims()
    html = client.get(reverse("kb:home")).content.decode()
    section = html[html.index('id="recent-heading"') :]
    links = re.findall(r'<a href="(/claims/[^"]+)"', section)
    assert links[0] == "/claims/beta/widgets/"
    assert '<time datetime="2030-01-02T03:04:00+00:00">2 January 2030</time>' in section
    assert '<time datetime="2020-03-04T05:06:00+00:00">4 March 2020</time>' in section


def test_admin_last_changed_column_and_form_show_content_dates(admin_client, sample_kb):
    alpha = _date_claims()
    listing = admin_client.get(reverse("admin:kb_claim_changelist") + "?o=7").content.decode()
    assert "Jan. 2, 2030" in listing and "March 4, 2020" in listing
    form = admin_client.get(reverse("admin:kb_claim_change", args=[alpha.pk])).content.decode()
    assert "March 4, 2020" in form  # the claim's own `changed`, not the row's load time
    assert "Added" in form and "Changed" in form


def test_admin_sorts_claims_by_content_date(admin_client, sample_kb):
    _date_claims()
    listing = admin_client.get(reverse("admin:kb_claim_changelist") + "?o=-7").content.decode()
    first_row = listing[listing.index("<tbody>") :]
    assert first_row.index("Widgets via plugins") < first_row.index("Widget engine built in")
