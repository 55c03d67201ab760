"""Security headers and cookies on every kind of response the site gives, and the HTTPS redirect.

Tests run in production mode (DJANGO_DEBUG unset): the headers checked here are
the ones readers get.
"""

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.storage import staticfiles_storage
from django.test import override_settings
from django.urls import reverse

from kb import settings as kb_settings

pytestmark = pytest.mark.django_db

ONE_YEAR = 31_536_000
SAME_ORIGIN_ONLY = ("script-src", "style-src", "img-src", "font-src", "connect-src", "form-action")
PASSWORD = "a-long-admin-passphrase-42"


def parse_csp(header):
    """{directive: [sources]} of a Content-Security-Policy header."""
    policy = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in policy, f"directive {words[0]} given twice"
            policy[words[0]] = words[1:]
    return policy


def assert_policy(response):
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.status_code} {response.get('Content-Type')}"
    assert "Content-Security-Policy-Report-Only" not in response.headers
    policy = parse_csp(header)
    assert policy["default-src"] == ["'none'"]
    for directive in SAME_ORIGIN_ONLY:
        assert policy.get(directive) == ["'self'"], f"{directive}: {policy.get(directive)}"
    for directive in ("base-uri", "frame-ancestors", "object-src"):
        assert policy.get(directive) == ["'none'"], f"{directive}: {policy.get(directive)}"
    lowered = header.lower()
    for forbidden in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'", "*", "data:"):
        assert forbidden not in lowered, f"{forbidden} in the policy: {header}"


def assert_security_headers(response, *, secure=True):
    assert_policy(response)
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "same-origin"
    assert response.headers.get("Cross-Origin-Resource-Policy") == "same-origin"
    assert response.headers.get("X-Frame-Options") == "DENY"
    if secure:
        hsts = response.headers.get("Strict-Transport-Security", "")
        assert f"max-age={ONE_YEAR}" in hsts, hsts
        assert "includeSubDomains" in hsts


@pytest.fixture
def compare_url(sample_kb):
    return reverse("kb:compare", kwargs={"spec": ["alpha", "beta"]})


def test_home_page(client, sample_kb):
    response = client.get(reverse("kb:home"), secure=True)
    assert response.status_code == 200
    assert_security_headers(response)


def test_comparison_page(client, compare_url):
    response = client.get(compare_url, secure=True)
    assert response.status_code == 200
    assert_security_headers(response)


def test_json_export(client, sample_kb):
    response = client.get(reverse("kb:compare-json", kwargs={"spec": ["alpha", "beta"]}), secure=True)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert_security_headers(response)


def test_csv_export_and_feed(client, sample_kb):
    for url in (reverse("kb:compare-csv", kwargs={"spec": ["alpha", "beta"]}), reverse("kb:feed-claims")):
        response = client.get(url, secure=True)
        assert response.status_code == 200
        assert_security_headers(response)


def test_not_found_and_redirect_responses(client, sample_kb):
    missing = client.get("/subjects/no-such-subject/", secure=True)
    assert missing.status_code == 404
    assert_security_headers(missing)
    renamed = client.get(reverse("kb:subject", args=["alpha-classic"]), secure=True)
    assert renamed.status_code == 301
    assert_security_headers(renamed)


@pytest.mark.parametrize("name", ["css/site.css", "js/site.js", "js/compare.js", "img/favicon.svg"])
def test_static_file(client, name):
    """Served by whitenoise from STATIC_ROOT (collectstatic), under its hashed name."""
    url = staticfiles_storage.url(name)
    assert url != f"/static/{name}", "the manifest storage gives hashed names (run collectstatic first)"
    response = client.get(url, secure=True)
    assert response.status_code == 200, url
    b"".join(response.streaming_content)
    assert_security_headers(response)
    assert "immutable" in response.get("Cache-Control", "") or "max-age" in response.get("Cache-Control", "")


def test_admin_login_page(client):
    response = client.get(reverse("admin:login"), secure=True)
    assert response.status_code == 200
    assert_security_headers(response)
    csrf = response.cookies["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"


def test_cookies_after_a_real_admin_login(client):
    get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    login_url = reverse("admin:login")
    client.get(login_url, secure=True)
    response = client.post(
        login_url, {"username": "root", "password": PASSWORD, "next": reverse("admin:index")}, secure=True
    )
    assert response.status_code == 302, "the login failed"
    assert_security_headers(response)
    session = response.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] in ("Lax", "Strict")
    csrf = response.cookies["csrftoken"]  # rotated on login
    assert csrf["secure"] is True
    assert csrf["samesite"] in ("Lax", "Strict")

    admin_page = client.get(reverse("admin:kb_claim_changelist"), secure=True)
    assert admin_page.status_code == 200
    assert_security_headers(admin_page)


def test_headers_on_a_page_cache_hit(client, sample_kb):
    url = reverse("kb:subject", args=["alpha"])
    first = client.get(url, secure=True)
    second = client.get(url, secure=True)
    assert first["X-Page-Cache"] == "miss"
    assert second["X-Page-Cache"] == "hit"
    assert second.content == first.content
    assert_security_headers(second)
    conditional = client.get(url, secure=True, headers={"If-None-Match": second["ETag"]})
    assert conditional.status_code == 304
    assert_security_headers(conditional)


def test_cookie_settings_in_production():
    from django.conf import settings

    assert settings.DEBUG is False
    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.CSRF_COOKIE_SECURE is True
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SESSION_COOKIE_SAMESITE in ("Lax", "Strict")
    assert settings.CSRF_COOKIE_SAMESITE in ("Lax", "Strict")
    assert settings.SECURE_HSTS_SECONDS >= ONE_YEAR


# The HTTPS redirect --------------------------------------------------------------------


@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_redirects_to_https(client, sample_kb):
    for url in ("/", "/compare/alpha-vs-beta/?only_contested=1", "/admin/login/"):
        response = client.get(url)
        assert response.status_code == 301, url
        assert response["Location"] == f"https://testserver{url}"
    assert client.get("/", secure=True).status_code == 200


@pytest.fixture
def reload_settings(monkeypatch):
    """Reload kb.settings under a given environment; the module is restored afterwards."""

    def reload(**environ):
        for name in ("DJANGO_DEBUG", "DJANGO_INSECURE_HTTP", "DJANGO_BEHIND_TLS_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("DJANGO_SECRET_KEY", "s" * 20 + "-a-strong-enough-key-for-a-reload-" + "k" * 20)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(kb_settings)

    yield reload
    monkeypatch.undo()
    importlib.reload(kb_settings)


def test_production_is_https_by_default(reload_settings):
    production = reload_settings()
    assert production.DEBUG is False
    assert production.SECURE_SSL_REDIRECT is True
    assert production.SECURE_HSTS_SECONDS == ONE_YEAR
    assert production.SESSION_COOKIE_SECURE is True
    assert production.CSRF_COOKIE_SECURE is True


def test_plain_http_needs_the_explicit_opt_out(reload_settings):
    insecure = reload_settings(DJANGO_INSECURE_HTTP="1")
    assert insecure.DEBUG is False
    assert insecure.SECURE_SSL_REDIRECT is False
    assert insecure.SECURE_HSTS_SECONDS == 0
    # The opt-out relaxes transport only: the policy headers stay.
    assert insecure.CONTENT_SECURITY_POLICY["DIRECTIVES"]["default-src"] == ["'none'"]
    assert insecure.SECURE_CONTENT_TYPE_NOSNIFF is True
    assert reload_settings(DJANGO_INSECURE_HTTP="0").SECURE_SSL_REDIRECT is True


def test_opt_out_is_documented():
    from django.conf import settings

    readme = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    assert "DJANGO_INSECURE_HTTP" in readme
