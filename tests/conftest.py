import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EDITOR_PASSWORD = "a-long-editor-passphrase-42"

# The replica suite needs a real primary and streaming standby: `make replica-test` makes the pair and
# sets DATABASE_REPLICA_URL; every other run leaves the suite out rather than skipping it.
collect_ignore = [] if os.environ.get("DATABASE_REPLICA_URL") else ["replica"]


@pytest.fixture(autouse=True)
def empty_caches():
    """Each test starts with empty caches: rolled-back transactions reuse content generations."""
    from django.core.cache import caches

    from kb.comparison.cell_memo import columns, memo
    from kb.ops.shared_cache import shared_cache

    for cache in caches.all():
        cache.clear()
    columns.clear()
    shared_cache.forget_failure()  # no outage carried over from another test
    memo.clear()  # cells are kept by content address, so never stale: emptied only so that query counts hold


@pytest.fixture(autouse=True, scope="session")
def jinja2_rendering_signals():
    """Public pages (Jinja2) tell the test client their template and context, as Django's engine does,
    so tests read response.context and response.templates on every page."""
    from django.template.backends.jinja2 import Template
    from django.test.signals import template_rendered

    render = Template.render

    def instrumented_render(self, context=None, request=None):
        template_rendered.send(sender=self, template=self.template, context=dict(context or {}))
        return render(self, context, request)

    Template.render = instrumented_render
    yield
    Template.render = render


@pytest.fixture
def editor(db, monkeypatch):
    """A staff account in the Editors group, made the way an administrator makes one."""
    from django.contrib.auth.models import User

    monkeypatch.setenv("KB_EDITOR_PASSWORD", EDITOR_PASSWORD)
    call_command("create_editor", "edith", verbosity=0)
    return User.objects.get(username="edith")


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def fixture_content_dir():
    return FIXTURES / "content"


@pytest.fixture
def fixture_archive_dir():
    return FIXTURES / "archive"


@pytest.fixture
def sample_kb(db, fixture_content_dir):
    """The small sample knowledge base of tests/fixtures/content, with a capture and a snippet run."""
    call_command("load_content", str(fixture_content_dir), "--reset", verbosity=0)
    _sample_capture()


def _sample_capture():
    from django.utils import timezone

    from kb.evidence.captures import fingerprint, normalise_capture
    from kb.knowledge import models as m

    source = m.Source.objects.order_by("pk").first()
    text = normalise_capture("\n".join(source.excerpts.values_list("text", flat=True)))
    sha256, characters = fingerprint(text)
    m.Capture.objects.create(
        source=source, text=text, sha256=sha256, characters=characters, captured_at=timezone.now(),
        origin="sample.txt", extractor="plain text",
    )  # fmt: skip


@pytest.fixture(scope="module")
def real_content(django_db_setup, django_db_blocker, tmp_path_factory):
    """The real content/ loaded once per test module, and removed after it so nothing leaks.

    Tests using it must not modify it (their own changes are rolled back by the db fixture).
    """
    with django_db_blocker.unblock():
        call_command("load_content", str(settings.KB_CONTENT_DIR), "--reset", verbosity=0)
    yield
    from kb.knowledge import models as m

    with django_db_blocker.unblock():
        call_command("load_content", str(tmp_path_factory.mktemp("empty-content")), "--reset", verbosity=0)
        m.SyncRecord.objects.all().delete()  # no folder's base outlives the module either


# Browser tests ----------------------------------------------------------------
# Debian's Chromium driven by Playwright. They run in their own pytest process
# (`pytest -m browser`, see the Makefile) because live_server flushes the database.

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def plain_static_files(request):
    """Browser tests: the live server serves static files from the finders, which know no hashed names."""
    if request.node.get_closest_marker("browser") is None:
        yield
        return
    settings_fixture = request.getfixturevalue("settings")
    settings_fixture.STORAGES = {
        **settings_fixture.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # h14b: the live server's origin is the site's (absolute URLs, and the Host port check).
    settings_fixture.KB_SITE_URL = request.getfixturevalue("live_server").url
    yield


@pytest.fixture(scope="session")
def chromium():
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made by
    # the test itself (fixtures, assertions) are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class StepRecorder:
    """Screenshots of each step of a browser walk, kept when the test fails."""

    def __init__(self, page, name):
        self.page = page
        self.name = name
        self.shots = []

    def step(self, label):
        self.shots.append((label, self.page.screenshot(full_page=True)))


@pytest.fixture
def page(chromium, request):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    browser_page = context.new_page()
    recorder = StepRecorder(browser_page, request.node.name)
    browser_page.steps = recorder
    yield browser_page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
        for number, (label, png) in enumerate(recorder.shots, 1):
            (ARTIFACTS / f"{safe}-{number:02d}-{label}.png").write_bytes(png)
        browser_page.screenshot(path=str(ARTIFACTS / f"{safe}-final.png"), full_page=True)
    context.close()
