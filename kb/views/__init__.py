"""Readers' pages. Placeholders until the readers' site lands."""

from django.http import HttpResponse


def _placeholder(request, *args, **kwargs):
    return HttpResponse("<h1>Coming soon</h1>")


home = compare_form = comparison = comparison_json = comparison_csv = _placeholder
subject_list = subject_detail = dimension_list = dimension_detail = claim_detail = _placeholder
source_list = source_detail = snippet_index = task_detail = search = _placeholder
