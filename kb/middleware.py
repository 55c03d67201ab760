"""Small middleware of the site's own."""


class CrossOriginResourcePolicyMiddleware:
    """Cross-Origin-Resource-Policy: same-origin on every response (Django sets no CORP header)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response
