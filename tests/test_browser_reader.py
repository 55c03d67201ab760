"""A reader's walk through the site in Chromium, on a desktop and on a 375 px phone.

Home -> the Flask vs Django comparison -> filter to one group -> only the rows
where support levels differ -> open a cell -> follow an excerpt's source link to
the source page -> the snippets index -> a snippet task. On the phone, no page
may scroll sideways (a table too wide for it scrolls inside its own region).

Runs in its own process (pytest -m browser): live_server flushes the database
after each test, so each test loads the real content/ itself.
"""

import re

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 800}


def load_real_content():
    call_command("load_content", str(settings.KB_CONTENT_DIR), verbosity=0)


def assert_no_sideways_scroll(page):
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths[0]} px wide in a {widths[1]} px window"


def choose_group(page, base_url):
    """A group of the Flask vs Django table with a row where they differ and a cell that quotes a source."""
    data = page.request.get(base_url + reverse("kb:compare-json", kwargs={"spec": ["flask", "django"]})).json()
    for row in data["rows"]:
        quoted = any(claim["evidence"] for cell in row["cells"] for claim in cell["claims"])
        if row["differs"] and quoted:
            return row["group"]["slug"]
    pytest.fail("Flask vs Django has no differing row with a quoted source")


def open_tools(page):
    tools = page.locator("details.cmp-tools")
    if tools.get_attribute("open") is None:
        tools.locator("summary").click()


def walk(page, base_url, *, phone):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def step(label):
        page.steps.step(label)
        if phone:
            assert_no_sideways_scroll(page)

    page.goto(base_url + reverse("kb:home"))
    assert page.locator("h1").count() == 1
    step("home")

    page.get_by_role("link", name=re.compile(r"Flask\s+vs\.?\s+Django", re.I)).first.click()
    page.wait_for_url(re.compile(r"/compare/flask-vs-django/"))
    assert page.locator("h1").inner_text().strip() == "Flask vs Django"
    headers = page.locator("thead th[scope=col].cmp-subject")
    assert [headers.nth(i).get_attribute("id") for i in range(headers.count())] == ["subject-flask", "subject-django"]
    step("comparison")

    # Filter to one group: the filters fold away above the table; the form applies itself on change (compare.js).
    group = choose_group(page, base_url)
    open_tools(page)
    page.get_by_label("Group").select_option(group)
    page.wait_for_url(re.compile(rf"[?&]group={group}"))
    groups = page.locator("tbody.cmp-group")
    assert groups.count() == 1
    assert groups.first.get_attribute("id") == f"group-{group}"
    step("filtered to one group")

    open_tools(page)
    page.get_by_label("Only rows where support levels differ").check()
    page.wait_for_url(re.compile(r"only_differences=1"))
    assert f"group={group}" in page.url
    open_tools(page)
    assert page.get_by_label("Only rows where support levels differ").is_checked()
    assert page.locator("tr.cmp-row").count() >= 1
    step("only differences")

    # Open a cell that quotes a source: a plain <details>.
    cell = page.locator(".cmp-table td:has(figure.citation)").first
    cell.locator("summary").click()
    assert cell.locator("details").get_attribute("open") is not None
    quote = cell.locator("figure.citation blockquote").first
    assert quote.is_visible() and quote.inner_text().strip()
    step("cell open")

    # compare.js adds "Expand all cells"; it opens and closes every cell.
    expand = page.get_by_role("button", name="Expand all cells")
    expand.click()
    assert page.locator(".cmp-table td > details:not([open])").count() == 0
    page.get_by_role("button", name="Collapse all cells").click()
    assert page.locator(".cmp-table td > details[open]").count() == 0
    cell.locator("summary").click()

    source_link = cell.locator("figure.citation cite a").first
    title = source_link.inner_text().strip()
    assert title
    source_link.click()
    page.wait_for_url(re.compile(r"/sources/[-\w]+/"))
    assert page.locator("h1").count() == 1
    assert title in page.locator("h1").inner_text()
    step("source page")

    page.goto(base_url + reverse("kb:snippets"))
    assert page.locator("h1").count() == 1
    step("snippets index")
    task_link = page.locator("main a[href^='/snippets/']:not([href='/snippets/'])").first
    task_name = task_link.inner_text().strip()
    assert task_name
    task_link.click()
    page.wait_for_url(re.compile(r"/snippets/[-\w]+/"))
    assert page.locator("h1").count() == 1
    step("snippet task")

    assert errors == [], errors


def test_a_reader_compares_flask_and_django(live_server, page):
    load_real_content()
    walk(page, live_server.url, phone=False)


def test_a_reader_on_a_phone_never_scrolls_the_page_sideways(live_server, page):
    load_real_content()
    page.set_viewport_size(PHONE)
    walk(page, live_server.url, phone=True)


def test_three_subjects_on_a_phone_scroll_sideways_in_their_region(live_server, page):
    load_real_content()
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + reverse("kb:compare", kwargs={"spec": ["flask", "django", "pyramid"]}))
    region = page.locator(".cmp-scroll[role=region][tabindex='0']")
    assert region.get_attribute("aria-label")
    assert region.evaluate("el => el.scrollWidth > el.clientWidth")
    assert_no_sideways_scroll(page)
    # Scrolled sideways, the dimension column stays in view...
    first_dimension = page.locator("th.cmp-dimension").first
    before = first_dimension.bounding_box()["x"]
    region.evaluate("el => { el.scrollLeft = 400; }")
    assert abs(first_dimension.bounding_box()["x"] - before) < 1
    # ...and so do the subjects' names above the columns in view.
    assert page.locator("thead th.cmp-subject").nth(2).is_visible()
    page.steps.step("scrolled table")
    # The keyboard reaches the region.
    region.focus()
    assert page.evaluate("document.activeElement.classList.contains('cmp-scroll')")


def test_filters_and_cells_work_without_javascript(live_server, chromium):
    load_real_content()
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1024, "height": 800})
    try:
        page = context.new_page()
        page.goto(live_server.url + reverse("kb:compare", kwargs={"spec": ["flask", "django"]}))
        open_tools(page)
        page.get_by_label("Only contested rows").check()
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_url(re.compile(r"only_contested=1"))
        rows = page.locator("tr.cmp-row")
        if rows.count():
            assert page.locator("tr.cmp-row:not(.cmp-row--contested)").count() == 0
        else:
            assert page.get_by_text("No rows match these filters.").is_visible()
        # The "expand all" button needs JavaScript, so it stays hidden.
        assert not page.locator("[data-cmp-expand]").is_visible()
        # Add a subject with the plain GET form.
        open_tools(page)
        page.get_by_label("Add a subject").select_option("pyramid")
        page.get_by_role("button", name=re.compile("^Add")).click()
        page.wait_for_url(re.compile(r"/compare/flask-vs-django-vs-pyramid/\?only_contested=1"))
    finally:
        context.close()
