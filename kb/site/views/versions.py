"""A comparison through time: its pinned pages, Memento (RFC 7089) TimeGate and TimeMap, and what changed.

A pinned page (``/compare/<spec>/v/<epoch>-<generation>/``) shows the comparison as it was at that
content version and never changes, apart from one notice linking the newer version and its changes;
it is served as immutable. A version that is not one at which the comparison changed redirects
to the one in force then, so each state of a comparison has one pinned URL.
"""

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from django.http import HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import http_date

from kb.comparison import history
from kb.comparison.filters import FILTER_PARAMS, keep_rows
from kb.comparison.table import changes_url, compare_url, pinned_url, with_query
from kb.site import site_url
from kb.site.views.compare import (
    _carried,
    _names,
    content_state,
    memento_links,
    render_comparison,
    resolve_or_answer,
)

IMMUTABLE_SECONDS = 31536000


@dataclass
class Pin:
    """The version a pinned page shows, and the newest version of the comparison when there is a newer one."""

    generation: int
    name: str
    at: datetime | None
    newer_url: str = ""
    newer_at: datetime | None = None
    changes_url: str = ""


def _not_a_version(message):
    return HttpResponseNotFound(message + "\n", content_type="text/plain; charset=utf-8")


def pinned(request, spec, version):
    resolved, response = resolve_or_answer(request, spec, "kb:compare-pinned", kwargs={"version": version})
    if response:
        return response
    state = content_state(request)
    generation = history.parse_version(version, state.epoch)
    if generation is None or generation > state.generation:
        return _not_a_version(
            f"“{version}” is not a version of this knowledge base: the current one is {state.key}. "
            f"Its versions are listed at {compare_url(resolved.resolution.slugs, 'kb:compare-timemap')}."
        )
    subjects = resolved.subjects
    slugs = [subject.slug for subject in subjects]
    versions = history.versions_of([subject.pk for subject in subjects])
    found = history.in_force(versions, generation)
    query = _carried(request).urlencode()
    if found is not None and found[0] != generation:
        return HttpResponseRedirect(pinned_url(slugs, history.version_name(state.epoch, found[0]), query))
    name = history.version_name(state.epoch, generation)
    pin = Pin(generation, name, found[1] if found else None)
    if versions and versions[-1][0] > generation:
        newest = history.version_name(state.epoch, versions[-1][0])
        pin.newer_url = pinned_url(slugs, newest, query)
        pin.newer_at = versions[-1][1]
        pin.changes_url = changes_url(slugs, name, newest, query)
    response = render_comparison(request, resolved, pin=pin)
    patch_cache_control(response, public=True, max_age=IMMUTABLE_SECONDS, immutable=True)
    self_link = f'<{site_url.absolute(pinned_url(slugs, name))}>; rel="memento"'
    if pin.at:
        response["Memento-Datetime"] = http_date(pin.at.timestamp())
        response["Last-Modified"] = response["Memento-Datetime"]
        self_link += f'; datetime="{http_date(pin.at.timestamp())}"'
    response["Link"] = memento_links(subjects, self_link)
    return response


def timegate(request, spec):
    """302 to the version in force at ``Accept-Datetime`` (the newest without one), as RFC 7089 gives it."""
    resolved, response = resolve_or_answer(request, spec, "kb:compare-timegate")
    if response:
        return response
    subjects = resolved.subjects
    slugs = [subject.slug for subject in subjects]
    state = content_state(request)
    versions = history.versions_of([subject.pk for subject in subjects])
    asked = request.headers.get("Accept-Datetime")
    if asked:
        try:
            when = parsedate_to_datetime(asked)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is None or when.tzinfo is None:
            response = HttpResponse(
                "Accept-Datetime must be an HTTP date, e.g. “Thu, 03 Dec 2026 08:00:00 GMT”.\n",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
            patch_vary_headers(response, ["Accept-Datetime"])
            return response
        found = history.at_datetime(versions, when)
    else:
        found = versions[-1] if versions else None
    generation = found[0] if found else state.generation
    response = HttpResponseRedirect(pinned_url(slugs, history.version_name(state.epoch, generation)))
    patch_vary_headers(response, ["Accept-Datetime"])
    response["Link"] = memento_links(subjects)
    return response


def timemap(request, spec):
    """Every version of the comparison, as an RFC 7089 TimeMap (application/link-format)."""
    resolved, response = resolve_or_answer(request, spec, "kb:compare-timemap")
    if response:
        return response
    subjects = resolved.subjects
    slugs = [subject.slug for subject in subjects]
    state = content_state(request)
    versions = [(generation, at) for generation, at in history.versions_of([s.pk for s in subjects]) if at]
    absolute = site_url.absolute
    lines = [
        f'<{absolute(compare_url(slugs))}>;rel="original"',
        f'<{absolute(compare_url(slugs, "kb:compare-timegate"))}>;rel="timegate"',
    ]
    self_line = f'<{absolute(compare_url(slugs, "kb:compare-timemap"))}>;rel="self";type="application/link-format"'
    if versions:
        self_line += f';from="{http_date(versions[0][1].timestamp())}";until="{http_date(versions[-1][1].timestamp())}"'
    lines.append(self_line)
    for index, (generation, at) in enumerate(versions):
        rel = "memento"
        if index == 0:
            rel = "first memento"
        if index == len(versions) - 1:
            rel = "last memento" if index else "first last memento"
        url = absolute(pinned_url(slugs, history.version_name(state.epoch, generation)))
        lines.append(f'<{url}>;rel="{rel}";datetime="{http_date(at.timestamp())}"')
    return HttpResponse(",\n".join(lines) + "\n", content_type="application/link-format; charset=utf-8")


def _version_param(request, name, state, default):
    """(generation, error): the version the parameter names, else ``default`` and why it was not used."""
    value = request.GET.get(name)
    if not value:
        return default, None
    generation = history.parse_version(value, state.epoch)
    if generation is None or generation > state.generation:
        default_name = history.version_name(state.epoch, default)
        return default, f"“{value}” is not a version of this knowledge base, so “{name}” is {default_name}."
    return generation, None


def changes(request, spec):
    """The cells that changed between two versions (``from``, ``to``; default: the last change, to now)."""
    resolved, response = resolve_or_answer(request, spec, "kb:compare-changes")
    if response:
        return response
    subjects = resolved.subjects
    slugs = [subject.slug for subject in subjects]
    state = content_state(request)
    versions = history.versions_of([subject.pk for subject in subjects])
    previous = versions[-2][0] if len(versions) > 1 else 0
    old, old_error = _version_param(request, "from", state, previous)
    new, new_error = _version_param(request, "to", state, state.generation)
    if old > new:
        old, new = new, old
    past = history.History(subjects)
    changed = history.changes_in_view(past, old, new, keep_rows(_carried(request, FILTER_PARAMS)))
    query = _carried(request).urlencode()
    stamps = dict(versions)
    context = {
        "page_title": f"{_names(subjects)}: what changed",
        "page_description": f"The cells of {_names(subjects)} that changed between two versions, old beside new.",
        "robots_noindex": True,
        "nav_section": "compare",
        "names": _names(subjects),
        "subjects": subjects,
        "changes": changed,
        "errors": [error for error in (old_error, new_error) if error],
        "old": {"name": history.version_name(state.epoch, old), "at": stamps.get(old), "generation": old},
        "new": {"name": history.version_name(state.epoch, new), "at": stamps.get(new), "generation": new},
        "old_url": pinned_url(slugs, history.version_name(state.epoch, old), query),
        "new_url": pinned_url(slugs, history.version_name(state.epoch, new), query),
        "live_url": with_query(compare_url(slugs), query),
        "feed_url": with_query(compare_url(slugs, "kb:feed-compare"), query),
    }
    return render(request, "kb/compare_changes.html", context)
