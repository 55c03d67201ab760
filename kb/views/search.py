"""Search (placeholder)."""

from django.http import HttpResponse


def search(request):
    return HttpResponse("<h1>Coming soon</h1>")
