"""Comparison pages (placeholder)."""

from django.http import HttpResponse


def _placeholder(request, *args, **kwargs):
    return HttpResponse("<h1>Coming soon</h1>")


compare_form = comparison = comparison_json = comparison_csv = _placeholder
