"""Template context shared by every page. Touches no database (500.html may rely on it)."""

from kb.site import site_url

SITE_NAME = "Comparison KB"
SITE_TAGLINE = "Technologies side by side, with who said so and in which words."


def site(request):
    return {
        "site_name": SITE_NAME,
        "site_tagline": SITE_TAGLINE,
        "site_url": site_url.origin(),
        "default_canonical_url": site_url.absolute(request.path),
    }
