"""Small middleware of the site's own."""

from django.http import HttpResponseNotAllowed

PUBLIC_METHODS = ("GET", "HEAD")


class CrossOriginResourcePolicyMiddleware:
    """Cross-Origin-Resource-Policy: same-origin on every response (Django sets no CORP header)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response


class PublicMethodsMiddleware:
    """Public pages answer GET and HEAD only: any other method (OPTIONS and TRACE too) is a 405 with Allow.

    The admin keeps its own methods (its forms POST, behind CSRF and a login).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from kb.ops.page_cache import PRIVATE_PREFIXES

        if request.method not in PUBLIC_METHODS and not request.path.startswith(PRIVATE_PREFIXES):
            response = HttpResponseNotAllowed(PUBLIC_METHODS, content_type="text/plain; charset=utf-8")
            response.content = f"{request.method} is not allowed here: only GET and HEAD.".encode()
            return response
        return self.get_response(request)
