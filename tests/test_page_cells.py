"""Issue 19: the subject and dimension pages read the read model, the comparisons' one read path.

Their cells are the open records of kb.comparison.models.CellVersion (one query), drawn by the one cell
template, so a cell reads the same on a subject's page, a dimension's page and a comparison; a subject
page runs a fixed number of queries whatever the number of its dimensions and claims.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kb.comparison.cell_memo import columns, memo
from kb.comparison.markup import markup_key
from kb.comparison.models import CellVersion
from kb.knowledge import models as m
from kb.knowledge.signals import bulk_write

CELL = r'<td id="{}".*?</td>'


def cell_html(html, dom_id):
    found = re.search(CELL.format(re.escape(dom_id)), html, re.S)
    return found.group(0) if found else None


def test_subject_dimension_and_comparison_show_the_same_cell(client, sample_kb):
    compare = client.get(reverse("kb:compare", args=[["alpha", "beta"]])).content.decode()
    subject = client.get(reverse("kb:subject", args=["alpha"])).content.decode()
    dimension = client.get(reverse("kb:dimension", args=["startup"])).content.decode()
    for dom_id in ("startup--alpha", "widgets--alpha"):
        assert cell_html(subject, dom_id) == cell_html(compare, dom_id) is not None
    assert cell_html(dimension, "startup--alpha") == cell_html(compare, "startup--alpha")
    assert cell_html(dimension, "widgets--alpha") is None  # another dimension's cell


def test_the_cells_are_the_read_models_records(client, sample_kb):
    """What a page shows is the stored record's markup, not a drawing from the claims."""
    alpha = m.Subject.objects.get(slug="alpha")
    startup = m.Dimension.objects.get(slug="startup")
    record = CellVersion.objects.current().get(subject_id=alpha.pk, dimension_id=startup.pk)
    CellVersion.objects.filter(pk=record.pk).update(html='<td id="startup--alpha">as stored</td>')
    assert "as stored" in client.get(reverse("kb:subject", args=["alpha"])).content.decode()
    assert "as stored" in client.get(reverse("kb:dimension", args=["startup"])).content.decode()


def test_cells_drawn_with_other_templates_are_drawn_again(client, sample_kb):
    CellVersion.objects.update(html="<td>old markup</td>", markup_key="old templates")
    html = client.get(reverse("kb:subject", args=["alpha"])).content.decode()
    assert "old markup" not in html and "Widget engine built in" in html
    assert set(CellVersion.objects.current().filter(subject_id=m.Subject.objects.get(slug="alpha").pk)
               .values_list("markup_key", flat=True)) == {markup_key()}  # fmt: skip


def test_dimension_page_lists_subjects_by_kind_then_name(client, sample_kb):
    html = client.get(reverse("kb:dimension", args=["widgets"])).content.decode()
    rows = re.findall(r'<tr id="subject-([^"]+)"', html)
    kinds = dict(m.SubjectKind.objects.values_list("name", "order"))
    expected = sorted(
        m.Subject.objects.filter(claims__dimension__slug="widgets", claims__status=m.Status.PUBLISHED).distinct(),
        key=lambda subject: (kinds[subject.kind.name], subject.kind.name, subject.name),
    )
    assert rows == [subject.slug for subject in expected] and len(rows) >= 2
    assert '<th scope="rowgroup" colspan="2"><span class="cmp-group-name">Tool</span></th>' in html


def many_dimensions(count):
    """``count`` more dimensions, each with a published claim of alpha quoting an excerpt."""
    alpha = m.Subject.objects.get(slug="alpha")
    group = m.Dimension.objects.get(slug="widgets").group
    source = m.Source.objects.get(slug="sample")
    with bulk_write():
        for n in range(count):
            dimension = m.Dimension.objects.create(slug=f"many-{n}", name=f"Many {n}", group=group, order=100 + n)
            excerpt = m.Excerpt.objects.create(source=source, key=f"many-{n}", text=f"Quote number {n}.")
            for key in ("one", "two"):
                claim = m.Claim.objects.create(
                    subject=alpha, dimension=dimension, key=f"many-{n}-{key}", cell=f"Cell {n} {key}",
                    support="partial", status=m.Status.PUBLISHED,
                )  # fmt: skip
                m.Evidence.objects.create(claim=claim, excerpt=excerpt, stance="supports")


@pytest.mark.parametrize("preview", [False, True])
def test_a_subject_page_is_a_fixed_number_of_queries(client, sample_kb, django_user_model, preview):
    if preview:
        client.force_login(django_user_model.objects.create_user("editor", password="pw", is_staff=True))
    url = reverse("kb:subject", args=["alpha"]) + ("?preview=1" if preview else "")

    def count_queries():
        memo.clear()
        columns.clear()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured.captured_queries), response.content.decode()

    small, _ = count_queries()
    many_dimensions(30)
    large, html = count_queries()
    assert large == small
    assert len(re.findall(r'<td id="many-\d+--alpha"', html)) == 30
    assert "Quote number 29." in html and "Cell 29 two" in html
