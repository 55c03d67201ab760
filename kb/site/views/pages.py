"""Readers' pages: home, subjects, dimensions, claims, sources, snippets, robots.txt.

Every view runs a fixed number of queries whatever the amount of content
(tests/test_pages_queries.py pins the counts): rows are loaded with
select_related/prefetch_related and grouped in Python, templates only read. The
cells of a subject's and a dimension's page are the comparisons' own, read from
the read model (kb.comparison.page_cells) and printed as drawn.
Readers see published claims only; staff asking for ``?preview=1`` also see drafts
on subject and claim pages (kb.site.preview).
"""

from collections import OrderedDict

from django import forms
from django.db.models import Count, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator

from kb.comparison.coverage import Coverage
from kb.comparison.page_cells import dimension_cells, preview_cells, subject_cells
from kb.comparison.table import ComparisonTable
from kb.evidence.run_records import excerpt_context, run_record
from kb.evidence.states import capture_status
from kb.knowledge.featured import featured_comparisons
from kb.knowledge.models import (
    Claim,
    Dimension,
    Evidence,
    Excerpt,
    Snippet,
    Source,
    Status,
    Subject,
    SubjectAlias,
    SubjectKind,
    SubjectRelation,
    Task,
)
from kb.site import listings, site_url
from kb.site.claim_history import claim_history
from kb.site.jinja2 import FORM_RENDERER
from kb.site.preview import PREVIEW_PARAM, wants_preview

RECENT_CHANGES = 10
DESCRIPTION_LENGTH = 30  # words


def describe(html, fallback=""):
    """A plain-text page description from stored, sanitised HTML."""
    text = " ".join(strip_tags(html or "").split())
    return Truncator(text).words(DESCRIPTION_LENGTH) if text else fallback


def compare_url(subjects):
    return reverse("kb:compare", args=[[subject.slug for subject in subjects]])


def _alias_redirect(slug, viewname, *rest):
    """A permanent redirect from a former subject slug, or a 404."""
    alias = SubjectAlias.objects.select_related("subject").filter(slug=slug).first()
    if alias is None:
        raise Http404("No such subject.")
    return redirect(reverse(viewname, args=[alias.subject.slug, *rest]), permanent=True)


# Home ----------------------------------------------------------------------------


def home(request):
    subjects = Subject.objects.first_of_each_kind(listings.PREVIEW_SIZE)
    dimensions = Dimension.objects.first_of_each_group(listings.PREVIEW_SIZE)
    recent = Claim.objects.published().select_related("subject", "dimension").recent()[:RECENT_CHANGES]
    return render(
        request,
        "kb/home.html",
        {
            "page_title": "Compare technologies, with the sources' own words",
            "page_description": (
                "Side-by-side comparisons where every cell quotes its sources verbatim, shows where they "
                "disagree, and links to the original."
            ),
            "featured": featured_comparisons(),
            "kinds": listings.sections(subjects, "kind", "kb:subject-list", "kind"),
            "groups": listings.sections(dimensions, "group", "kb:dimension-list", "group"),
            "recent": recent,
        },
    )


# Subjects -----------------------------------------------------------------------


def subject_list(request):
    page = listings.with_claim_counts(listings.page_of(request, Subject.objects.in_order()), "subject")
    return render(
        request,
        "kb/subject_list.html",
        {
            "page_title": "Subjects",
            "page_description": "Every technology in the knowledge base, by kind, with how many sourced claims it has.",
            "nav_section": "subjects",
            "subjects": page.object_list,
            **listings.page_context(request, page),
        },
    )


def subject_detail(request, slug):
    subject = Subject.objects.with_kind().filter(slug=slug).first()
    if subject is None:
        return _alias_redirect(slug, "kb:subject")
    preview = wants_preview(request)
    # Its column of the comparisons: the read model's cells (a staff preview's, with drafts, drawn now).
    cells = preview_cells(subject.pk, f"{PREVIEW_PARAM}=1") if preview else subject_cells(subject.pk)
    table = ComparisonTable([subject], cells)
    relations = SubjectRelation.objects.filter(subject=subject).select_related("target")
    related_from = SubjectRelation.objects.filter(target=subject).select_related("subject")
    peers = list(Subject.objects.filter(kind=subject.kind_id).exclude(pk=subject.pk).order_by("name"))
    coverage = Coverage.load(subjects=[subject.pk, *(peer.pk for peer in peers)])  # only the answers it compares
    suggestions = [
        {"subject": item.subjects[1], "url": compare_url(item.subjects), "shared": item.shared, "enough": item.enough}
        for item in coverage.suggest(subject, peers)
    ]
    snippets = (
        Snippet.objects.filter(subject=subject)
        .select_related("task", "subject")
        .order_by("task__order", "task__title", "order")
    )
    return render(
        request,
        "kb/subject_detail.html",
        {
            "page_title": subject.name,
            "page_description": describe(subject.summary_html, f"What the sources say about {subject.name}."),
            "nav_section": "subjects",
            "og_type": "article",
            "subject": subject,
            "preview": preview,
            "blocks": table.blocks(table.rows),
            "relations": relations,
            "related_from": related_from,
            "peers": [peer for peer in suggestions if peer["enough"]],
            "weak_peers": [peer for peer in suggestions if not peer["enough"]],
            "answered": coverage.count(subject),
            "dimension_count": coverage.dimension_count,
            "enough_shared": coverage.enough,
            "snippets": snippets,
        },
    )


# Dimensions ---------------------------------------------------------------------


def dimension_list(request):
    page = listings.with_claim_counts(listings.page_of(request, Dimension.objects.in_order()), "dimension")
    return render(
        request,
        "kb/dimension_list.html",
        {
            "page_title": "Dimensions",
            "page_description": "The questions every subject is compared on, in groups.",
            "nav_section": "dimensions",
            "dimensions": page.object_list,
            **listings.page_context(request, page),
        },
    )


def dimension_detail(request, slug):
    dimension = get_object_or_404(Dimension.objects.select_related("group"), slug=slug)
    # Its row of the comparisons: every subject's cell from the read model, subjects by kind, then name.
    kind_order = dict(SubjectKind.objects.values_list("name", "order"))
    cells = sorted(
        dimension_cells(dimension.pk),
        key=lambda cell: (kind_order.get(cell.subject.kind, 0), cell.subject.kind, cell.subject.name),
    )
    siblings = Dimension.objects.filter(group=dimension.group_id).order_by("order", "name")
    return render(
        request,
        "kb/dimension_detail.html",
        {
            "page_title": dimension.name,
            "page_description": describe(
                dimension.description_html, f"How each subject fares on {dimension.name}, with the sources' words."
            ),
            "nav_section": "dimensions",
            "dimension": dimension,
            "cells": cells,
            "siblings": siblings,
        },
    )


# Claims -------------------------------------------------------------------------


def claim_detail(request, subject, key):
    preview = wants_preview(request)
    claims = Claim.objects.visible(preview).with_evidence().select_related("superseded_by__subject")
    claim = claims.filter(subject__slug=subject, key=key).first()
    if claim is None:
        if Subject.objects.filter(slug=subject).exists():
            raise Http404("No such claim.")
        return _alias_redirect(subject, "kb:claim", key)
    same_cell = (
        Claim.objects.visible(preview)
        .filter(subject=claim.subject_id, dimension=claim.dimension_id)
        .exclude(pk=claim.pk)
        .select_related("subject")
        .order_by("order", "key")
    )
    sources = list(OrderedDict((e.excerpt.source_id, e.excerpt.source) for e in claim.evidence.all()).values())
    history, history_subjects = claim_history(claim)
    return render(
        request,
        "kb/claim_detail.html",
        {
            "page_title": f"{claim.subject.name} · {claim.dimension.name}: {claim.cell}",
            "page_description": describe(
                claim.body_html, f"{claim.subject.name} on {claim.dimension.name}: {claim.cell}, with its sources."
            ),
            "og_type": "article",
            "nav_section": "subjects",
            "claim": claim,
            "preview": preview,
            "same_cell": same_cell,
            "sources": sources,
            "history": history,
            "history_subjects": history_subjects,
        },
    )


# Sources ------------------------------------------------------------------------


def source_list(request):
    sources = Source.objects.annotate(excerpt_count=Count("excerpts")).order_by("title")
    return render(
        request,
        "kb/source_list.html",
        {
            "page_title": "Sources",
            "page_description": "Every article, documentation page and comment the claims quote, with what was taken.",
            "nav_section": "sources",
            "sources": sources,
        },
    )


def source_detail(request, slug):
    source = get_object_or_404(Source.objects.select_related("capture").defer("capture__text"), slug=slug)
    held_sha256 = source.capture.sha256 if hasattr(source, "capture") else ""
    published_evidence = (
        Evidence.objects.filter(claim__status=Status.PUBLISHED)
        .select_related("claim__subject", "claim__dimension")
        .order_by("claim__subject__name", "claim__order", "claim__key")
    )
    excerpts = excerpt_context(
        Excerpt.objects.filter(source=source)
        .order_by("order", "key")
        .prefetch_related(Prefetch("evidence", queryset=published_evidence)),
        source,
    )
    snippets = (
        Snippet.objects.filter(derived_from__source=source)
        .select_related("task", "subject", "derived_from")
        .order_by("task__order", "task__title", "order")
    )
    return render(
        request,
        "kb/source_detail.html",
        {
            "page_title": source.title,
            "page_description": describe(
                source.notes_html,
                f"{source.get_kind_display()}"
                + (f" by {source.author}" if source.author else "")
                + ": every excerpt the knowledge base quotes from it.",
            ),
            "nav_section": "sources",
            "og_type": "article",
            "source": source,
            "capture": capture_status(source, held_sha256),
            "excerpts": excerpts,
            "snippets": snippets,
        },
    )


# Snippets -----------------------------------------------------------------------


class SnippetFilterForm(forms.Form):
    default_renderer = FORM_RENDERER
    task = forms.ChoiceField(required=False, label="Task")
    subject = forms.ChoiceField(required=False, label="Subject")

    def __init__(self, data, tasks, subjects):
        super().__init__(data)
        self.fields["task"].choices = [("", "All tasks")] + [(task.slug, task.title) for task in tasks]
        self.fields["subject"].choices = [("", "All subjects")] + [(s.slug, s.name) for s in subjects]

    def valid_value(self, name):
        """The field's value when valid, else None (an invalid filter is ignored and explained)."""
        self.is_valid()
        return self.cleaned_data.get(name) or None


def with_run_records(snippets):
    """The snippets, each with ``run_record``: what a reader is told of its recorded run."""
    snippets = list(snippets)
    for snippet in snippets:
        snippet.run_record = run_record(snippet)
    return snippets


def snippet_index(request):
    tasks = list(Task.objects.order_by("order", "title"))
    subjects = list(Subject.objects.filter(snippets__isnull=False).distinct().order_by("name"))
    form = SnippetFilterForm(request.GET, tasks, subjects)
    task_slug, subject_slug = form.valid_value("task"), form.valid_value("subject")
    snippets = Snippet.objects.select_related("task", "subject").order_by(
        "task__order", "task__title", "subject__name", "order"
    )
    if task_slug:
        snippets = snippets.filter(task__slug=task_slug)
    if subject_slug:
        snippets = snippets.filter(subject__slug=subject_slug)
    snippets = with_run_records(snippets)
    by_task = OrderedDict()
    for snippet in snippets:
        by_task.setdefault(snippet.task_id, {"task": snippet.task, "snippets": []})["snippets"].append(snippet)
    return render(
        request,
        "kb/snippet_index.html",
        {
            "page_title": "Code snippets",
            "page_description": "The same small tasks done with each subject, side by side, with their last run.",
            "nav_section": "snippets",
            "form": form,
            "tasks": list(by_task.values()),
            "filtered": bool(task_slug or subject_slug),
        },
    )


def task_detail(request, slug):
    task = get_object_or_404(Task, slug=slug)
    snippets = with_run_records(
        Snippet.objects.filter(task=task)
        .select_related("subject", "derived_from__source")
        .order_by("subject__name", "order", "pk")
    )
    columns = OrderedDict()
    for snippet in snippets:
        columns.setdefault(snippet.subject_id, {"subject": snippet.subject, "snippets": []})["snippets"].append(snippet)
    columns = list(columns.values())
    return render(
        request,
        "kb/task_detail.html",
        {
            "page_title": f"{task.title}: code side by side",
            "page_description": describe(task.description_html, f"{task.title}, done with each subject."),
            "nav_section": "snippets",
            "task": task,
            "columns": columns,
            "compare_url": compare_url([column["subject"] for column in columns]) if len(columns) > 1 else "",
        },
    )


# robots.txt ---------------------------------------------------------------------


def robots_txt(request):
    return render(
        request,
        "robots.txt",
        {"sitemap_url": site_url.absolute(reverse("kb:sitemap"))},
        content_type="text/plain; charset=utf-8",
    )
