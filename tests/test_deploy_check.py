"""Production mode passes Django's deployment checklist, and the check really checks.

``manage.py check --deploy`` runs in a subprocess with the real settings (kb.settings,
not the test settings), DJANGO_DEBUG unset and a strong secret key.
"""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.filterwarnings("ignore")


def run_deploy_check(tmp_path, **environ):
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "KB_", "REDIS_", "DATABASE_"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "kb.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        # The check touches no database; a throwaway SQLite file keeps it off the real ones.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy-check.sqlite3'}",
        "KB_SITE_URL": "https://kb.example.org",
        **environ,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = run_deploy_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_check_fails_over_plain_http(tmp_path):
    """Proof that the check means something: the documented local opt-out is flagged."""
    result = run_deploy_check(tmp_path, DJANGO_INSECURE_HTTP="1")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output, warning


def test_the_check_fails_with_a_weak_secret_key(tmp_path):
    result = run_deploy_check(tmp_path, DJANGO_SECRET_KEY="short")
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_deploy_check(tmp_path, DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stdout + result.stderr


def test_the_check_wants_the_public_site_origin(tmp_path):
    result = run_deploy_check(tmp_path, KB_SITE_URL="http://127.0.0.1:8000")
    assert result.returncode != 0
    assert "kb.W001" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("redis_url", "warned"),
    [
        ("redis://cache.internal:6379/0", True),  # reachable beyond this machine, no password
        ("redis://10.0.0.5:6379/0", True),
        ("redis://:s3cret@cache.internal:6379/0", False),
        ("redis://kb:s3cret@cache.internal:6379/0", False),  # an ACL user
        ("redis://127.0.0.1:6379/0", False),  # loopback
        ("redis://localhost:6379/0", False),
        ("unix:///run/redis/redis.sock", False),
    ],
)
def test_the_check_wants_a_password_for_a_redis_beyond_loopback(tmp_path, redis_url, warned):
    result = run_deploy_check(tmp_path, REDIS_URL=redis_url)
    output = result.stdout + result.stderr
    assert ("kb.W003" in output) is warned, output
    assert (result.returncode != 0) is warned
