from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def fixture_content_dir():
    return FIXTURES / "content"


@pytest.fixture
def fixture_archive_dir():
    return FIXTURES / "archive"


@pytest.fixture
def sample_kb(db, fixture_content_dir):
    """The small sample knowledge base of tests/fixtures/content."""
    call_command("load_content", str(fixture_content_dir), verbosity=0)


@pytest.fixture(scope="session")
def real_content(django_db_setup, django_db_blocker):
    """The real content/ loaded once for the session (tests using it must not modify it)."""
    with django_db_blocker.unblock():
        call_command("load_content", str(settings.KB_CONTENT_DIR), verbosity=0)
