"""What makes a comparison share well: its link-preview picture, its citation downloads; and the favicon.

Absolute URLs are built on the configured site origin (``kb.site.site_url``), never the request's Host.
"""

import json

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse, HttpResponseNotFound, HttpResponsePermanentRedirect
from django.utils.cache import patch_cache_control

from kb.comparison import citation as kb_citation
from kb.comparison import preview_image
from kb.comparison.history import parse_version, version_name
from kb.comparison.table import (
    SubjectCatalogue,
    build_table,
    compare_url,
    pinned_url,
    resolve_subjects,
    split_spec,
)
from kb.knowledge.models import ContentVersion
from kb.site import site_url
from kb.site.context_processors import SITE_NAME

FAVICON = "img/favicon.ico"


def _names(subjects):
    return " vs ".join(subject.name for subject in subjects)


def _resolve(spec, view):
    """(subjects, None), or (None, a 404 or a redirect to the canonical URL)."""
    resolution = resolve_subjects(split_spec(spec), SubjectCatalogue.load())
    if resolution.unknown or resolution.too_many or resolution.too_few:
        return None, HttpResponseNotFound("No such comparison.\n", content_type="text/plain; charset=utf-8")
    if not resolution.is_canonical:
        return None, HttpResponsePermanentRedirect(compare_url(resolution.slugs, view))
    return resolution.subjects, None


def comparison_share_context(request, subjects, content_date, *, pin=None, state=None):
    """Template context for a comparison page: ``og_image`` (link previews) and ``citation``.

    ``subjects``: each with its slug and name as the page shows them (ComparisonTable.columns).
    ``content_date``: the latest date of the comparison's published claims (ComparisonTable.content_date).
    The citation and the link to copy name the pinned form of the page (``pin``'s, or the version the live
    page shows: ``state``, a kb.knowledge.models.ContentState), which shows the same content in a year.
    """
    slugs = [subject.slug for subject in subjects]
    version = pin.name if pin else state.key
    pinned = site_url.absolute(pinned_url(slugs, version))
    citation = kb_citation.for_comparison(subjects, pinned, SITE_NAME, content_date=content_date)
    # The picture's URL names the content version it shows, so that chat apps, which keep
    # a link's picture by its URL, fetch the new one after a change (the view ignores ``v``).
    image = compare_url(slugs, "kb:compare-preview") + f"?v={version}"
    return {
        "og_image": {
            "url": site_url.absolute(image),
            "width": preview_image.WIDTH,
            "height": preview_image.HEIGHT,
            "alt": f"{_names(subjects)}: how many claims each has per support level.",
        },
        "citation": {
            "url": citation.url,
            "date": citation.content_date,
            "version_date": (pin.at if pin else state.changed),
            "bibtex_url": compare_url(slugs, "kb:compare-bibtex") + f"?version={version}",
            "csl_url": compare_url(slugs, "kb:compare-csl") + f"?version={version}",
        },
    }


def comparison_preview(request, spec):
    subjects, response = _resolve(spec, "kb:compare-preview")
    if response:
        return response
    png = preview_image.preview_png(subjects, SITE_NAME)
    response = HttpResponse(png, content_type="image/png")
    patch_cache_control(response, public=True, max_age=3600)
    return response


def _citation(request, subjects):
    """The citation of the comparison, pinned at ``?version=`` when that names a version of this database."""
    slugs = [subject.slug for subject in subjects]
    state = ContentVersion.objects.state()
    generation = parse_version(request.GET.get("version", ""), state.epoch)
    if generation is None or generation > state.generation:
        return kb_citation.for_comparison(subjects, site_url.absolute(compare_url(slugs)), SITE_NAME)
    url = site_url.absolute(pinned_url(slugs, version_name(state.epoch, generation)))
    content_date = build_table(subjects, version=generation).content_date
    return kb_citation.for_comparison(subjects, url, SITE_NAME, content_date=content_date)


def _download(content, content_type, filename):
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def comparison_bibtex(request, spec):
    subjects, response = _resolve(spec, "kb:compare-bibtex")
    if response:
        return response
    citation = _citation(request, subjects)
    return _download(kb_citation.bibtex(citation), "application/x-bibtex; charset=utf-8", f"{citation.key}.bib")


def comparison_csl(request, spec):
    subjects, response = _resolve(spec, "kb:compare-csl")
    if response:
        return response
    citation = _citation(request, subjects)
    content = json.dumps(kb_citation.csl_json(citation), ensure_ascii=False, indent=2) + "\n"
    return _download(content, "application/vnd.citationstyles.csl+json; charset=utf-8", f"{citation.key}.json")


def favicon(request):
    """/favicon.ico, for the clients that ask for it whatever the page's <link rel="icon"> says."""
    if staticfiles_storage.exists(FAVICON):
        with staticfiles_storage.open(FAVICON) as file:
            content = file.read()
    else:  # static files not collected (a development checkout): the file in static/
        with open(finders.find(FAVICON), "rb") as file:
            content = file.read()
    response = HttpResponse(content, content_type="image/vnd.microsoft.icon")
    patch_cache_control(response, public=True, max_age=86400)
    return response
