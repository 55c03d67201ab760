"""The Content-Security-Policy in a real browser: no page of the site, public or admin, breaks it.

Chromium walks the public pages (opening a comparison cell, applying a filter,
pressing a snippet's copy button, searching) and an editor's change of a claim in
the admin (autocomplete widgets, inlines, save), and fails on any CSP violation:
both the console's "Refused to ..." messages and the ``securitypolicyviolation``
events, recorded by a script Playwright injects before the page's own.

Runs in its own process (pytest -m browser): live_server flushes the database
after each test, so each test loads its own data.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from tests.conftest import FIXTURES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-admin-passphrase-42"
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(
    event.violatedDirective + " blocked " + (event.blockedURI || "inline") + " at " + event.sourceFile + ":"
    + event.lineNumber + " " + (event.sample || "")
  );
}, true);
"""
CSP_CONSOLE = re.compile(r"Content Security Policy|Refused to", re.I)


class ViolationWatch:
    """Collects CSP violations from the console and from the page, step by step."""

    def __init__(self, page):
        self.page = page
        self.found = []
        self.errors = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))

    def _console(self, message):
        if CSP_CONSOLE.search(message.text):
            self.found.append(f"{self.page.url}: console: {message.text}")

    def check(self, label):
        """Read the page's recorded violations (call before leaving the page)."""
        events = self.page.evaluate("window.__cspViolations || []")
        self.found += [f"{label} ({self.page.url}): {event}" for event in events]
        self.page.evaluate("window.__cspViolations = []")
        self.page.steps.step(label)

    def assert_none(self):
        assert not self.found, "CSP violations:\n" + "\n".join(self.found)
        assert not self.errors, "script errors:\n" + "\n".join(self.errors)


def load_sample():
    call_command("load_content", str(FIXTURES / "content"), verbosity=0)


def test_the_policy_blocks_inline_script_in_this_browser(live_server, page):
    """The harness itself: a violation on a site page is seen by both listeners."""
    load_sample()
    watch = ViolationWatch(page)
    page.goto(live_server.url + reverse("kb:home"))
    page.evaluate(
        """() => {
        const script = document.createElement("script");
        script.textContent = "window.__ran = true";
        document.body.appendChild(script);
        document.body.setAttribute("style", "color: red");
    }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__ran === undefined")
    watch.check("injected")
    assert any("script-src" in found for found in watch.found), watch.found
    assert any("style-src" in found for found in watch.found), watch.found


def test_public_pages_keep_to_the_policy(live_server, page):
    load_sample()
    watch = ViolationWatch(page)
    base = live_server.url

    page.goto(base + reverse("kb:home"))
    watch.check("home")

    page.goto(base + reverse("kb:compare", kwargs={"spec": ["alpha", "beta"]}))
    cell = page.locator(".cmp-table td:has(figure.citation)").first
    cell.locator("summary").click()
    assert cell.locator("details").get_attribute("open") is not None
    page.get_by_role("button", name="Expand all cells").click()
    watch.check("comparison, cells open")
    page.locator("details.cmp-tools > summary").click()
    page.get_by_label("Group").select_option("features")
    page.wait_for_url(re.compile(r"[?&]group=features"))
    page.locator("details.cmp-tools > summary").click()
    page.get_by_label("Only contested rows").check()
    page.wait_for_url(re.compile(r"only_contested=1"))
    watch.check("comparison, filtered")

    page.goto(base + reverse("kb:compare", kwargs={"spec": ["alpha", "beta"]}) + "#widgets--alpha")
    watch.check("comparison, linked cell")

    page.goto(base + reverse("kb:compare-form") + "?subjects=alpha")
    watch.check("compare form")
    page.goto(base + "/compare/alpha-vs-nothing/")
    watch.check("comparison 404")

    for label, url in [
        ("subjects", reverse("kb:subject-list")),
        ("subject", reverse("kb:subject", args=["alpha"])),
        ("dimensions", reverse("kb:dimension-list")),
        ("dimension", reverse("kb:dimension", args=["widgets"])),
        ("claim", reverse("kb:claim", args=["alpha", "widgets"])),
        ("sources", reverse("kb:source-list")),
        ("source", reverse("kb:source", args=["sample"])),
        ("snippets", reverse("kb:snippets") + "?task=hello"),
        ("not found", "/no-such-page/"),
    ]:
        page.goto(base + url)
        watch.check(label)

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(base + reverse("kb:task", args=["hello"]))
    copy = page.locator(".copy-button").first
    copy.click()
    page.wait_for_function("document.querySelector('.copy-button').textContent !== 'Copy'")
    watch.check("task, code copied")

    page.goto(base + reverse("kb:home"))
    page.fill("#site-search-q", "widget")
    page.press("#site-search-q", "Enter")
    page.wait_for_url(re.compile(r"/search/\?q=widget"))
    watch.check("search")

    watch.assert_none()


def pick(page, field_id, search, option):
    """Choose ``option`` in the autocomplete (select2) widget of ``field_id``."""
    page.click(f"[aria-labelledby~='select2-{field_id}-container']")
    page.fill(".select2-container--open .select2-search__field", search)
    page.locator(".select2-results__option", has_text=option).first.click()
    page.wait_for_selector(f"#select2-{field_id}-container:has-text('{option}')")


def test_an_admin_edit_keeps_to_the_policy(live_server, page):
    load_sample()
    get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    watch = ViolationWatch(page)
    base = live_server.url

    page.goto(base + "/admin/")
    watch.check("login page")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    watch.check("admin index")

    from kb.knowledge.models import Claim

    claim = Claim.objects.get(subject__slug="alpha", key="widgets")
    page.goto(base + reverse("admin:kb_claim_changelist"))
    watch.check("claim list")
    page.goto(base + reverse("admin:kb_claim_change", args=[claim.pk]))
    page.wait_for_selector("#select2-id_dimension-container")
    watch.check("claim change page")

    pick(page, "id_dimension", "start", "Start-up time")
    pick(page, "id_dimension", "widg", "Widgets")
    page.fill("#id_cell", "Widget engine built in (checked)")
    add_evidence = page.locator("#evidence-group .add-row a")
    add_evidence.click()
    page.locator("#evidence-group .inline-deletelink").last.click()  # and remove the empty form again
    watch.check("claim edited")

    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    watch.check("claim saved")
    assert Claim.objects.get(pk=claim.pk).cell == "Widget engine built in (checked)"

    page.goto(base + reverse("admin:kb_claim_history", args=[claim.pk]))
    watch.check("claim history")
    page.goto(base + reverse("admin:kb_source_change", args=[claim.evidence.first().excerpt.source_id]))
    watch.check("source change page")

    watch.assert_none()
