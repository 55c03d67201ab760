"""axe-core finds no accessibility violation on the readers' pages and on the admin's claim form.

axe-core comes from the npm registry into the test run only (``make axe`` installs the
pinned version under .cache/axe); the site never serves it. It is injected with Playwright
into a context that bypasses the page's Content-Security-Policy (the site's own strict policy
would rightly refuse an injected script).
"""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from kb.knowledge import models as m

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "a-long-editor-passphrase-42"


@pytest.fixture(scope="module")
def axe_source():
    assert AXE.is_file(), f"axe-core is missing: run `make axe` (it installs it into {AXE.parent})"
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def axe_page(chromium, axe_source):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    yield page
    context.close()


def violations(page, axe_source):
    page.add_script_tag(content=axe_source)
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": violation["id"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
    ]


def assert_clean(page, axe_source, label):
    found = violations(page, axe_source)
    assert found == [], f"{label} ({page.url}):\n{json.dumps(found, indent=2)}"


@pytest.fixture
def real_kb():
    call_command("load_content", str(settings.KB_CONTENT_DIR), verbosity=0)


def reader_pages():
    claim = m.Claim.objects.published().select_related("subject").order_by("pk").first()
    source = m.Source.objects.order_by("slug").first()
    dimension = m.Dimension.objects.filter(claims__isnull=False).order_by("slug").first()
    task = m.Task.objects.filter(snippets__isnull=False).order_by("slug").first()
    return [
        ("home", reverse("kb:home")),
        ("claim", claim.get_absolute_url()),
        ("source", source.get_absolute_url()),
        ("dimension", dimension.get_absolute_url()),
        ("snippet task", reverse("kb:task", args=[task.slug])),
        ("search", reverse("kb:search") + "?q=async"),
        ("subject", reverse("kb:subject", args=["flask"])),
    ]


def test_readers_pages_have_no_violations(axe_page, live_server, real_kb, axe_source):
    found = {}
    for label, path in reader_pages():
        axe_page.goto(live_server.url + path)
        found[f"{label} ({path})"] = violations(axe_page, axe_source)
    found = {label: problems for label, problems in found.items() if problems}
    assert found == {}, json.dumps(found, indent=2)


def test_comparison_collapsed_and_expanded_has_no_violations(axe_page, live_server, real_kb, axe_source):
    axe_page.goto(live_server.url + reverse("kb:compare", args=[["flask", "django"]]))
    assert_clean(axe_page, axe_source, "comparison, cells collapsed")
    opened = axe_page.evaluate(
        "() => { const all = document.querySelectorAll('main table details');"
        " all.forEach((d) => { d.open = true; }); return all.length; }"
    )
    assert opened > 0
    assert_clean(axe_page, axe_source, "comparison, cells expanded")


def test_admin_claim_change_form_has_no_violations(axe_page, live_server, real_kb, axe_source, monkeypatch):
    monkeypatch.setenv("KB_EDITOR_PASSWORD", PASSWORD)
    call_command("create_editor", "edith", verbosity=0)
    claim = m.Claim.objects.filter(evidence__isnull=False).order_by("pk").first()
    axe_page.goto(f"{live_server.url}/admin/login/")
    axe_page.fill("#id_username", "edith")
    axe_page.fill("#id_password", PASSWORD)
    axe_page.click("input[type=submit]")
    axe_page.wait_for_url(f"{live_server.url}/admin/")
    axe_page.goto(live_server.url + reverse("admin:kb_claim_change", args=[claim.pk]))
    assert axe_page.locator("#claim_form").count() == 1
    # The admin's a11y.js names select2's comboboxes once select2 has drawn them.
    axe_page.wait_for_function(
        "() => [...document.querySelectorAll('.select2-selection[role=combobox]')]"
        ".every((box) => (box.getAttribute('aria-labelledby') || '').includes('-a11y-name'))"
    )
    assert_clean(axe_page, axe_source, "admin claim change form")
