"""Test settings: the real site's settings, with only what makes tests fast and hermetic changed."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")

from kb.settings import *  # noqa: F403

# A misspelt template variable fails the test that renders it (kb.site.jinja2).
KB_STRICT_TEMPLATES = True

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The test client speaks plain HTTP; the HTTPS redirect itself is tested with override_settings.
SECURE_SSL_REDIRECT = False

# h14a: the replica suite (tests/replica, `make replica-test`) keeps the real standby of DATABASE_REPLICA_URL
# (SITE_REPLICA) and the router: tests/replica/settings.py. Every other test ignores DATABASE_REPLICA_URL.
SITE_REPLICA = DATABASES.get("replica")  # noqa: F405
DATABASE_ROUTERS = []

# A replica alias that mirrors the primary, for the router tests (kb.ops.db_router). No router is
# installed here: tests that exercise it install it with override_settings(DATABASE_ROUTERS=...).
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405

# h14b: the test client sends no Host header (it uses SERVER_NAME "testserver"); tests of the
# Host requirement turn it on. Absolute URLs are built on the test client's origin.
KB_REQUIRE_HOST_HEADER = False
KB_SITE_URL = "http://testserver"

# Tests never read or write the development archive (../shared/sources): one that needs an archive names its own.
KB_SOURCE_ARCHIVE = None
