"""The comparison a reader opens from a link: the table first, on a laptop and on a phone.

Flask vs Django from the real content/, in Chromium at 1280x900 and 375x812.
"""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@pytest.fixture
def flask_vs_django(live_server):
    call_command("load_content", str(settings.KB_CONTENT_DIR), verbosity=0)
    return live_server.url + reverse("kb:compare", kwargs={"spec": ["flask", "django"]})


def box(locator):
    return locator.bounding_box()


def test_on_a_laptop_the_first_row_is_above_the_fold(flask_vs_django, page):
    page.set_viewport_size(LAPTOP)
    page.goto(flask_vs_django)
    first_row = box(page.locator("tr.cmp-row").first)
    assert 0 <= first_row["y"] < LAPTOP["height"], first_row
    assert page.evaluate("window.scrollY") == 0


def test_on_a_phone_two_subjects_sit_side_by_side(flask_vs_django, page):
    page.set_viewport_size(PHONE)
    page.goto(flask_vs_django)
    row = page.locator("tr.cmp-row").first
    row.scroll_into_view_if_needed()
    flask, django = box(row.locator("td").nth(0)), box(row.locator("td").nth(1))
    # Scrolling moves whole pixels while the layout has fractions of one: a row scrolled into view
    # may end a fraction of a pixel below the window, so the bounds allow less than one pixel.
    for cell in (flask, django):
        assert cell["x"] >= 0 and cell["x"] + cell["width"] <= PHONE["width"], cell
        assert cell["y"] > -1 and cell["y"] + cell["height"] < PHONE["height"] + 1, cell
    assert abs(flask["y"] - django["y"]) < 1  # the same line, not one under the other
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_subject_names_stay_in_view_when_the_page_scrolls(flask_vs_django, page, viewport):
    page.set_viewport_size(viewport)
    page.goto(flask_vs_django)
    header = page.locator("thead th.cmp-subject").first
    page.evaluate("window.scrollTo(0, 2500)")
    assert page.evaluate("window.scrollY") > 2000  # the page scrolls, not an inner box
    top = box(header)["y"]
    assert -1 <= top < 5, top
    assert header.is_visible()


def test_copy_link_copies_the_row_link_with_javascript(flask_vs_django, page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(flask_vs_django)
    row = page.locator("tr.cmp-row").nth(2)
    slug = row.get_attribute("id")
    row.locator("th a.cmp-permalink").click()
    page.wait_for_function("navigator.clipboard.readText().then(t => t.length > 0)", polling=100)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{flask_vs_django}#{slug}"
    assert page.url.endswith(f"#{slug}")
    assert row.locator("th a.cmp-permalink[data-copied]").count() == 1


def test_copy_link_is_a_plain_link_without_javascript(flask_vs_django, chromium):
    context = chromium.new_context(java_script_enabled=False, viewport=LAPTOP)
    try:
        page = context.new_page()
        page.goto(flask_vs_django)
        row = page.locator("tr.cmp-row").nth(2)
        slug = row.get_attribute("id")
        row.locator("th a.cmp-permalink").click()
        assert page.url == f"{flask_vs_django}#{slug}"
        assert page.evaluate("document.querySelector(':target').id") == slug
        # A cell's own link, once the cell is open.
        cell = row.locator("td:has(details)").first
        cell.locator("summary").click()
        cell.locator("a.cmp-permalink").click()
        assert page.url == f"{flask_vs_django}#{cell.get_attribute('id')}"
    finally:
        context.close()
