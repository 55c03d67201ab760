"""Comparison pages: the table, its open data (JSON and CSV) and the subject picker.

Thin views: resolving the URL's subjects and building the table live in
kb/comparison/table.py, the filters in kb/comparison/filters.py. Every comparison page runs the
same number of queries whatever its size (tests/test_compare_queries.py).
"""

import csv

from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.text import get_text_list

from kb.comparison.coverage import Coverage
from kb.comparison.filters import FILTER_PARAMS, ComparisonFilter
from kb.comparison.marks import SUPPORT_ICONS, SUPPORT_LABELS
from kb.comparison.markup import CellsByReference
from kb.comparison.summary import summarise
from kb.comparison.table import (
    MAX_SUBJECTS,
    MIN_SUBJECTS,
    SubjectCatalogue,
    build_table,
    compare_url,
    frame,
    pinned_url,
    resolve_subjects,
    split_spec,
    table_as_csv_rows,
    table_as_data,
    with_query,
)
from kb.knowledge.featured import featured_order
from kb.knowledge.models import COMPARE_SEPARATOR, ContentVersion
from kb.site import site_url
from kb.site.preview import PREVIEW_PARAM, wants_preview
from kb.site.views.share import comparison_share_context

CARRIED_PARAMS = (*FILTER_PARAMS, PREVIEW_PARAM)
SUGGESTED_PAIRS = 12  # comparisons the picker suggests, enough answered rows first


def _carried(request, keys=CARRIED_PARAMS):
    """The filter (and preview) parameters of this request, for links that keep them."""
    query = QueryDict(mutable=True)
    for key in keys:
        values = [value for value in request.GET.getlist(key) if value != ""]
        if values:
            query.setlist(key, values)
    return query


def _names(subjects):
    return " vs ".join(subject.name for subject in subjects)


# Resolving the URL ---------------------------------------------------------------------


class _Resolved:
    """The subjects a comparison URL names, and what is wrong with it if anything."""

    def __init__(self, spec, request):
        self.catalogue = frame(content_state(request)).catalogue
        self.resolution = resolve_subjects(split_spec(spec), self.catalogue)
        self.subjects = self.resolution.subjects

    @property
    def problem(self):
        """Why there is no table: "unknown", "too-many", "too-few", or None."""
        resolution = self.resolution
        if resolution.too_many:
            return "too-many"
        if resolution.unknown:
            return "unknown"
        if resolution.too_few:
            return "too-few"
        return None

    def redirect_if_not_canonical(self, request, view):
        """Old slugs, repeats, wrong case or empty parts: a permanent redirect that keeps the query string."""
        if self.resolution.is_canonical:
            return None
        url = with_query(compare_url(self.resolution.slugs, view), request.META.get("QUERY_STRING", ""))
        return HttpResponsePermanentRedirect(url)

    def suggestion_links(self, request):
        """For each unknown slug, links to the comparison with a near match in its place."""
        requested = [slug for slug in self.resolution.requested if slug]
        query = request.META.get("QUERY_STRING", "")
        items = []
        for unknown in self.resolution.unknown:
            links = []
            for subject in unknown.suggestions:
                replaced = list(dict.fromkeys(subject.slug if slug == unknown.slug else slug for slug in requested))
                url = with_query(compare_url(replaced), query) if len(replaced) > 1 else subject.get_absolute_url()
                links.append({"subject": subject, "url": url})
            items.append({"slug": unknown.slug, "links": links})
        return items

    def problem_message(self):
        resolution = self.resolution
        if self.problem == "too-many":
            return f"A comparison shows at most {MAX_SUBJECTS} subjects; this link names {resolution.named_count}."
        if resolution.unknown:
            slugs = [f"“{unknown.slug}”" for unknown in resolution.unknown]
            if len(slugs) == 1:
                return f"There is no subject called {slugs[0]}."
            return f"There are no subjects called {get_text_list(slugs, 'or')}."
        return f"A comparison needs at least {MIN_SUBJECTS} subjects."


def _problem_page(request, resolved):
    resolution = resolved.resolution
    first_eight = resolution.subjects[:MAX_SUBJECTS] if resolved.problem == "too-many" else []
    if resolved.problem == "unknown":
        unknown = [f"“{item.slug}”" for item in resolution.unknown]
        title = f"No subject called {get_text_list(unknown, 'or')}"
    elif resolved.problem == "too-many":
        title = "Too many subjects to compare"
    else:
        title = "Not enough subjects to compare"
    context = {
        "page_title": title,
        "page_description": resolved.problem_message(),
        "robots_noindex": True,
        "nav_section": "compare",
        "problem": resolved.problem,
        "message": resolved.problem_message(),
        "unknown": resolved.suggestion_links(request),
        "known": resolution.subjects,
        "first_eight": first_eight,
        "first_eight_url": compare_url([s.slug for s in first_eight]) if len(first_eight) >= MIN_SUBJECTS else "",
        "max_subjects": MAX_SUBJECTS,
        "form_url": with_query(
            reverse("kb:compare-form"),
            _subjects_query(resolution.subjects[:MAX_SUBJECTS]),
        ),
    }
    return render(request, "kb/compare_404.html", context, status=404)


def _subjects_query(subjects, extra=None):
    query = QueryDict(mutable=True)
    query.setlist("subjects", [subject.slug for subject in subjects])
    if extra:
        for key, values in extra.lists():
            query.setlist(key, values)
    return query.urlencode()


def _data_problem(resolved, as_json):
    message = resolved.problem_message()
    if as_json:
        return JsonResponse(
            {
                "error": message,
                "unknown": [
                    {"slug": unknown.slug, "suggestions": [subject.slug for subject in unknown.suggestions]}
                    for unknown in resolved.resolution.unknown
                ],
                "max_subjects": MAX_SUBJECTS,
            },
            status=404,
            json_dumps_params={"ensure_ascii": False},
        )
    return HttpResponse(message + "\n", status=404, content_type="text/plain; charset=utf-8")


def content_state(request):
    """The content (kb.knowledge.models.ContentState) this request shows: read once per request."""
    state = getattr(request, "content_state", None)
    if state is None:
        state = request.content_state = ContentVersion.objects.state()
    return state


def _table_and_rows(request, subjects, preview, *, version=None, with_data=False):
    """The table (a staff preview's computed fresh; else the read model's at ``version``, now if None) and its
    rows with the request's filters applied."""
    if preview:
        table = build_table(subjects, preview=True, dimension_count=frame(content_state(request)).dimension_count)
    elif version is None:
        state = content_state(request)
        count = frame(state).dimension_count
        table = build_table(subjects, version=state.generation, with_data=with_data, dimension_count=count, state=state)
    else:
        table = build_table(subjects, version=version, with_data=with_data)
    # No filter asked for: an unbound filter set, which validates nothing.
    filterset = ComparisonFilter(request.GET or None, table=table, request=request)
    rows = filterset.filter_rows(table.rows)
    return table, filterset, rows


def _finish(response, preview):
    if preview:
        add_never_cache_headers(response)
        patch_vary_headers(response, ["Cookie"])
    return response


# The comparison page -------------------------------------------------------------------


def resolve_or_answer(request, spec, view, *, kwargs=None):
    """(resolved, None) for a comparison URL naming its subjects canonically; else (resolved, the answer):
    a 404 page that says why, the subject page for one subject, or a permanent redirect to the canonical URL."""
    resolved = _Resolved(spec, request)
    problem = resolved.problem
    if problem in ("unknown", "too-many"):
        return resolved, _problem_page(request, resolved)
    if problem == "too-few":
        if not resolved.subjects:
            return resolved, _problem_page(request, resolved)
        return resolved, redirect(
            with_query(resolved.subjects[0].get_absolute_url(), _carried(request, [PREVIEW_PARAM]))
        )
    if not resolved.resolution.is_canonical:
        url = reverse(view, kwargs={"spec": tuple(resolved.resolution.slugs), **(kwargs or {})})
        return resolved, HttpResponsePermanentRedirect(with_query(url, request.META.get("QUERY_STRING", "")))
    return resolved, None


def comparison(request, spec):
    resolved, response = resolve_or_answer(request, spec, "kb:compare")
    if response:
        return response
    response = render_comparison(request, resolved)
    if not wants_preview(request):
        response["Link"] = memento_links(resolved.subjects)
    return response


def memento_links(subjects, *extra):
    """The Link header of a comparison (RFC 7089): its original, TimeGate and TimeMap, and ``extra`` links."""
    slugs = [subject.slug for subject in subjects]
    links = [
        f'<{site_url.absolute(compare_url(slugs))}>; rel="original"',
        f'<{site_url.absolute(compare_url(slugs, "kb:compare-timegate"))}>; rel="timegate"',
        f'<{site_url.absolute(compare_url(slugs, "kb:compare-timemap"))}>; rel="timemap"; '
        'type="application/link-format"',
        *extra,
    ]
    return ", ".join(links)


def render_comparison(request, resolved, *, pin=None):
    """The comparison page: live (``pin`` None) or pinned at a version (kb.site.views.versions.Pin)."""
    preview = wants_preview(request) and pin is None
    subjects = resolved.subjects
    table, filterset, rows = _table_and_rows(request, subjects, preview, version=pin.generation if pin else None)
    # Links keep the filters in effect; values the form rejected are not passed on.
    carried = _carried(request, [key for key in CARRIED_PARAMS if key not in filterset.form.errors])
    query = carried.urlencode()
    only_preview = _carried(request, [PREVIEW_PARAM]).urlencode()
    slugs = [subject.slug for subject in subjects]
    canonical = compare_url(slugs)

    columns = []
    for subject in subjects:
        others = [other for other in subjects if other != subject]
        if len(others) >= MIN_SUBJECTS:
            remove_url = with_query(compare_url([other.slug for other in others]), query)
        else:
            remove_url = with_query(reverse("kb:compare-form"), _subjects_query(others, carried))
        columns.append({"subject": table.columns[len(columns)], "remove_url": remove_url})

    names = _names(table.columns)  # as the subjects were named at the table's version
    shown = len(rows)
    context = {
        "page_title": f"{names}: comparison",
        "page_description": (
            f"{get_text_list([column.name for column in table.columns], 'and')} compared side by side on "
            f"{len(table.rows)} dimensions, each cell with the sources' own words and where they disagree."
        ),
        "canonical_url": site_url.absolute(canonical),
        "robots_noindex": preview or pin is not None,  # a pinned page: the live page is the one to index
        "nav_section": "compare",
        "preview": preview,
        "subjects": subjects,
        "names": names,
        "columns": columns,
        "colspan": len(subjects) + 1,
        "table": table,
        "blocks": table.blocks(rows),
        "shown_count": shown,
        "total_count": len(table.rows),
        "dimension_total": table.dimension_count if table.dimension_count is not None else len(table.rows),
        "dimension_total_known": table.dimension_count is not None,
        "filterset": filterset,
        "filter_errors": filterset.form.errors,
        "filtered": bool(filterset.active),
        "clear_url": pinned_url(slugs, pin.name) if pin else with_query(canonical, only_preview),
        "json_url": with_query(compare_url(slugs, "kb:compare-json"), query),
        "csv_url": with_query(compare_url(slugs, "kb:compare-csv"), query),
        "feed_url": with_query(compare_url(slugs, "kb:feed-compare"), query),  # every filtered view has its feed
        "carried_hidden": [(key, value) for key, values in carried.lists() for value in values],
        "preview_hidden": [(PREVIEW_PARAM, "1")] if preview else [],
        # A pinned page never changes: it offers no list of the subjects there are now.
        "can_add": len(subjects) < MAX_SUBJECTS and pin is None,
        "addable": resolved.catalogue.grouped_by_kind(exclude=subjects) if pin is None else [],
        "max_subjects": MAX_SUBJECTS,
        "support_legend": [(value, SUPPORT_ICONS[value], label) for value, label in SUPPORT_LABELS.items()],
        **comparison_share_context(request, table.columns, table.content_date, pin=pin, state=content_state(request)),
        "support_labels": SUPPORT_LABELS,
        "summary": summarise(table.columns, rows, table.rows),
        "pin": pin,
    }
    by_reference = CellsByReference()
    context["row_cells"] = by_reference.cells
    return _finish(HttpResponse(by_reference.encode(render_to_string("kb/compare.html", context, request))), preview)


# Open data -------------------------------------------------------------------------------


def _data_view(request, spec, view):
    """(resolved, response): a response when there is no data to give (a 404 that says why, or a redirect)."""
    resolved = _Resolved(spec, request)
    if resolved.problem:
        return resolved, _data_problem(resolved, as_json=view == "kb:compare-json")
    return resolved, resolved.redirect_if_not_canonical(request, view)


def comparison_json(request, spec):
    resolved, response = _data_view(request, spec, "kb:compare-json")
    if response:
        return response
    preview = wants_preview(request)
    table, filterset, rows = _table_and_rows(request, resolved.subjects, preview, with_data=True)
    data = table_as_data(
        table,
        rows,
        absolute=site_url.absolute,
        filters=dict(filterset.active),
        errors={name: list(errors) for name, errors in filterset.form.errors.items()},
        preview=preview,
    )
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    if not preview:
        response["Access-Control-Allow-Origin"] = "*"
    return _finish(response, preview)


def comparison_csv(request, spec):
    resolved, response = _data_view(request, spec, "kb:compare-csv")
    if response:
        return response
    preview = wants_preview(request)
    _table, _filterset, rows = _table_and_rows(request, resolved.subjects, preview, with_data=True)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = COMPARE_SEPARATOR.join(subject.slug for subject in resolved.subjects)
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    if not preview:
        response["Access-Control-Allow-Origin"] = "*"
    writer = csv.writer(response)
    writer.writerows(table_as_csv_rows(rows, absolute=site_url.absolute))
    return _finish(response, preview)


# Choosing subjects -------------------------------------------------------------------------


def compare_form(request):
    """A GET form (no JavaScript needed): valid choices redirect to the comparison's canonical URL."""
    catalogue = SubjectCatalogue.load()
    requested = []
    for value in request.GET.getlist("subjects"):
        for part in value.replace(",", " ").split():
            requested.extend(part.split(COMPARE_SEPARATOR))
    requested = [slug for slug in requested if slug.strip()]
    errors = []
    chosen = []
    if requested:
        resolution = resolve_subjects(requested, catalogue)
        chosen = resolution.subjects[:MAX_SUBJECTS]
        for unknown in resolution.unknown:
            hint = ""
            if unknown.suggestions:
                hint = f" Did you mean {get_text_list([s.name for s in unknown.suggestions], 'or')}?"
            errors.append(f"There is no subject called “{unknown.slug}”.{hint}")
        if resolution.too_many:
            ticked = " The first eight are ticked below." if len(chosen) == MAX_SUBJECTS else ""
            errors.append(
                f"A comparison shows at most {MAX_SUBJECTS} subjects; you chose {resolution.named_count}.{ticked}"
            )
        elif resolution.too_few and not resolution.unknown:
            errors.append(
                f"Choose at least {MIN_SUBJECTS} subjects to compare: you chose only {len(resolution.subjects)}."
            )
        if not errors:
            slugs = featured_order(resolution.slugs) if len(request.GET.getlist("subjects")) > 1 else resolution.slugs
            return redirect(with_query(compare_url(slugs), _carried(request).urlencode()))
    elif "subjects" in request.GET:
        errors.append(f"Choose at least {MIN_SUBJECTS} subjects to compare.")

    coverage = Coverage.load()
    context = {
        "page_title": "Compare subjects",
        "page_description": (
            f"Choose {MIN_SUBJECTS} to {MAX_SUBJECTS} subjects and see them side by side, "
            "with every cell sourced in the sources' own words."
        ),
        "canonical_url": site_url.absolute(reverse("kb:compare-form")),
        "robots_noindex": bool(request.GET),
        "nav_section": "compare",
        "errors": errors,
        "chosen": chosen,
        "groups": catalogue.grouped_by_kind(),
        "suggestions": [
            {"names": _names(item.subjects), "url": compare_url([s.slug for s in item.subjects]), "item": item}
            for item in coverage.suggest_pairs(catalogue.subjects, SUGGESTED_PAIRS)
        ],
        "enough_shared": coverage.enough,
        "carried_hidden": [(key, value) for key, values in _carried(request).lists() for value in values],
        "min_subjects": MIN_SUBJECTS,
        "max_subjects": MAX_SUBJECTS,
    }
    return render(request, "kb/compare_form.html", context)
