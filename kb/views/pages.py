"""Detail and index pages (placeholder)."""

from django.http import HttpResponse


def _placeholder(request, *args, **kwargs):
    return HttpResponse("<h1>Coming soon</h1>")


home = subject_list = subject_detail = dimension_list = dimension_detail = claim_detail = _placeholder
source_list = source_detail = snippet_index = task_detail = _placeholder
