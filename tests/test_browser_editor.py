"""An editor's walk through the admin in Chromium: source, excerpt, claim, the evidence gate, publication."""

import re

import pytest
from django.core.management import call_command

from kb.knowledge import models as m

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-editor-passphrase-42"
ARCHIVED = """Flask or Django? A field guide

Templates
Flask renders templates with Jinja2, which ships as a dependency.
Django has its own template language and can also use Jinja2.
"""
QUOTE = "Flask renders templates with Jinja2, which ships as a dependency."
CELL = "Jinja2 templates out of the box"


@pytest.fixture
def knowledge_base(settings, tmp_path):
    settings.KB_SOURCE_ARCHIVE = None  # no archive folder: the editor pastes the source's text
    framework = m.SubjectKind.objects.create(slug="framework", name="Web framework")
    flask = m.Subject.objects.create(slug="flask", name="Flask", kind=framework)
    m.Subject.objects.create(slug="django", name="Django", kind=framework)
    group = m.DimensionGroup.objects.create(slug="building-pages", name="Building pages")
    m.Dimension.objects.create(slug="templates", name="Templates", group=group)
    # A reader sees nothing of drafts: this one must stay out of the public page.
    m.Claim.objects.create(
        subject=flask,
        dimension=m.Dimension.objects.get(slug="templates"),
        key="draft-idea",
        cell="An unfinished draft",
        status=m.Status.DRAFT,
    )


@pytest.fixture
def editor(db, monkeypatch):
    monkeypatch.setenv("KB_EDITOR_PASSWORD", PASSWORD)
    call_command("create_editor", "edith", verbosity=0)


def pick(page, field_id, search, option):
    """Choose ``option`` in the autocomplete (select2) widget of ``field_id``."""
    page.click(f"[aria-labelledby~='select2-{field_id}-container']")
    page.fill(".select2-container--open .select2-search__field", search)
    page.locator(".select2-results__option", has_text=option).first.click()
    page.wait_for_selector(f"#select2-{field_id}-container:has-text('{option}')")


def test_editor_publishes_a_claim_with_evidence(page, live_server, knowledge_base, editor):
    steps = page.steps

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "edith")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert page.locator("text=Users").count() == 0  # editors see the knowledge base only
    steps.step("logged-in")

    # A source with an excerpt that misquotes it: refused, with the passage it should quote.
    page.goto(f"{live_server.url}/admin/kb/source/add/")
    page.locator("#id_title").press_sequentially("Flask or Django: a field guide")
    assert page.input_value("#id_slug") == "flask-or-django-a-field-guide"
    page.fill("#id_slug", "field-guide")
    page.fill("#id_archive", "field-guide")
    page.fill("#id_capture_text", ARCHIVED)
    page.click("#excerpts-group .add-row a")
    page.fill("#id_excerpts-0-key", "flask-jinja")
    page.fill("#id_excerpts-0-text", "Flask renders templates with Jinja, which it ships.")
    page.fill("#id_excerpts-0-locator", "Templates")
    steps.step("source-filled")
    page.click("input[name=_continue]")
    error = page.locator("#excerpts-group .errorlist")
    assert "not found word for word" in error.inner_text()
    assert "Flask renders templates with Jinja2" in error.inner_text()
    steps.step("misquote-refused")

    page.fill("#id_excerpts-0-text", QUOTE)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert m.Excerpt.objects.get(key="flask-jinja").text == QUOTE
    assert m.Excerpt.objects.get(key="flask-jinja").verification == m.Verification.VERIFIED
    assert m.Capture.objects.get(source__slug="field-guide").sha256 in page.locator("body").inner_text()
    steps.step("source-saved")

    # A claim on Flask vs Django, published without evidence: refused in words.
    page.goto(f"{live_server.url}/admin/kb/claim/add/")
    pick(page, "id_subject", "Fla", "Flask")
    pick(page, "id_dimension", "Templ", "Templates")
    page.locator("#id_cell").press_sequentially(CELL)
    assert page.input_value("#id_key") == "jinja2-templates-out-of-the-box"
    page.select_option("#id_support", "built-in")
    page.select_option("#id_status", "published")
    steps.step("claim-filled")
    page.click("input[name=_continue]")
    page.wait_for_selector(".errornote")
    assert "cannot be published without evidence" in page.locator("ul.errorlist.nonfield").inner_text()
    assert not m.Claim.objects.filter(key="jinja2-templates-out-of-the-box").exists()
    steps.step("gate-refused")

    # Link the excerpt and publish.
    pick(page, "id_evidence-0-excerpt", "Jinja2", "field-guide/flask-jinja")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    claim = m.Claim.objects.get(key="jinja2-templates-out-of-the-box")
    assert claim.is_published
    assert [e.key for e in claim.excerpts.all()] == ["flask-jinja"]
    steps.step("claim-published")

    # The history of the claim names the editor.
    page.click("a.historylink")
    assert "edith" in page.locator("#change-history").inner_text()
    steps.step("history")

    # Readers see it on the comparison page, and not the draft.
    reader = page.context.browser.new_context()
    public = reader.new_page()
    response = public.goto(f"{live_server.url}/compare/flask-vs-django/")
    assert response.status == 200
    body = public.locator("body").inner_text()
    assert CELL in body
    assert "An unfinished draft" not in body
    page.goto(f"{live_server.url}/compare/flask-vs-django/")
    assert re.search(CELL, page.locator("body").inner_text())
    steps.step("public-comparison")
    reader.close()
