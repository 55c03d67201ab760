"""Small middleware of the site's own."""

from django.http import HttpResponseNotAllowed

from kb.ops.readers import READER_METHODS, is_admin_path


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
        if request.method not in READER_METHODS and not is_admin_path(request.path):
            response = HttpResponseNotAllowed(READER_METHODS, content_type="text/plain; charset=utf-8")
            response.content = f"{request.method} is not allowed here: only GET and HEAD.".encode()
            return response
        return self.get_response(request)
