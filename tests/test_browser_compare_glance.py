"""The table read at a glance (issue 21, item 7): each point at the viewport where it was seen.

Real content/, in Chromium at 1280x900 (a laptop) and 375x812 (a phone).
"""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@pytest.fixture
def site(live_server):
    call_command("load_content", str(settings.KB_CONTENT_DIR), verbosity=0)
    return live_server


def compare(site, *slugs):
    return site.url + reverse("kb:compare", kwargs={"spec": list(slugs)})


def box(locator):
    return locator.bounding_box()


def test_four_subjects_fit_a_laptop(site, page):
    page.set_viewport_size(LAPTOP)
    page.goto(compare(site, "flask", "django", "pyramid", "tornado"))
    scroller, table = box(page.locator(".cmp-scroll")), box(page.locator(".cmp-table"))
    assert table["x"] + table["width"] <= scroller["x"] + scroller["width"] + 1, (table, scroller)
    last = box(page.locator("thead th.cmp-subject").last)
    assert last["x"] + last["width"] <= scroller["x"] + scroller["width"] + 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_many_subjects_scroll_inside_their_box_keeping_the_first_column(site, page):
    page.set_viewport_size(LAPTOP)
    page.goto(compare(site, "flask", "django", "pyramid", "tornado", "bottle", "fastapi"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    scroller = page.locator(".cmp-scroll")
    assert scroller.evaluate("box => box.scrollWidth > box.clientWidth")
    dimension = page.locator("tr.cmp-row th.cmp-dimension").first
    before = box(dimension)["x"]
    scroller.evaluate("box => { box.scrollLeft = 400; }")
    assert abs(box(dimension)["x"] - before) < 1


def test_a_verified_quote_shows_one_check_mark(site, page):
    # The captures that travel with the content verify the documentation quotes.
    call_command("import_captures", str(settings.KB_CONTENT_DIR / "captures"), verbosity=0)
    page.set_viewport_size(LAPTOP)
    page.goto(compare(site, "flask", "django"))
    cell = page.locator("tr.cmp-row td:has(.verification--verified)").first
    assert cell.count() == 1, "the content has a verified quote"
    cell.locator("summary").click()
    verified = cell.locator(".verification--verified").first
    marker = verified.evaluate("e => getComputedStyle(e, '::before').content")
    assert (marker + verified.inner_text()).count("✓") == 1, (marker, verified.inner_text())


def test_opening_a_cell_does_not_reflow_the_other_columns(site, page):
    page.set_viewport_size(LAPTOP)
    page.goto(compare(site, "flask", "django"))
    headers = page.locator("thead th")
    widths = [box(headers.nth(i))["width"] for i in range(headers.count())]
    for cell in page.locator("tr.cmp-row td:has(details)").all()[:6]:
        cell.locator("summary").click()
        assert [box(headers.nth(i))["width"] for i in range(headers.count())] == pytest.approx(widths, abs=1)


def test_source_chips_are_short_distinct_and_titled(site, page):
    page.set_viewport_size(LAPTOP)
    page.goto(compare(site, "flask", "django"))
    # Within a subject's column (Flask's "Templates" page and Django's sit in different columns).
    seen = {}
    for column in (0, 1):
        for chip in page.locator(f"tr.cmp-row td:nth-of-type({column + 1}) summary .chip[title]").all():
            if chip.evaluate("c => c.matches('.chip--note, .chip--outdated')"):
                continue
            label = chip.evaluate("c => c.childNodes[1].textContent")
            title = chip.get_attribute("title").removesuffix(": no public address")
            assert len(label) <= 22 and label.rstrip("…") in title, (label, title)
            seen.setdefault((column, label), set()).add(title)
    assert len(seen) > 5
    shared = {label: titles for label, titles in seen.items() if len(titles) > 1}
    assert not shared, shared
    # The full title is on the source's page too.
    chip = page.locator("tr.cmp-row td summary .chip[title]").first
    title = chip.get_attribute("title")
    cell = page.locator("tr.cmp-row td:has(summary .chip[title])").first
    cell.locator("summary").click()
    cell.locator(".cmp-body figcaption cite a").first.click()
    assert page.locator("h1").inner_text() in title


def test_chips_are_not_clipped_on_a_phone(site, page):
    page.set_viewport_size(PHONE)
    page.goto(compare(site, "flask", "django"))
    clipped = page.evaluate(
        """[...document.querySelectorAll('.cmp-table .chip')]
        .filter(c => c.scrollWidth > c.clientWidth + 1 || getComputedStyle(c).textOverflow === 'ellipsis')
        .map(c => c.textContent)"""
    )
    assert not clipped


@pytest.mark.parametrize("target", ["row", "cell"])
def test_a_linked_row_is_clear_of_the_sticky_header_on_a_phone(site, page, target):
    page.set_viewport_size(PHONE)
    url = compare(site, "flask", "django")
    page.goto(url)
    row = page.locator("tr.cmp-row").nth(10)
    slug = row.get_attribute("id")
    anchor = slug if target == "row" else row.locator("td").nth(1).get_attribute("id")
    page.goto(f"{url}#{anchor}")
    page.wait_for_function("window.scrollY > 0")
    header = box(page.locator("thead"))
    heading = box(page.locator(f"#{slug} th.cmp-dimension"))
    assert heading["y"] >= header["y"] + header["height"] - 1, (heading, header)
    assert heading["y"] < PHONE["height"] / 2


def test_invalid_filter_values_do_not_push_the_table_down_on_a_phone(site, page):
    page.set_viewport_size(PHONE)
    url = compare(site, "flask", "django")
    page.goto(url)
    plain = box(page.locator("table.cmp-table"))["y"]
    page.goto(url + "?support=nonsense&group=nowhere")
    assert page.locator("details.cmp-tools").get_attribute("open") is None
    assert page.locator(".cmp-tools-error").is_visible()
    assert box(page.locator("table.cmp-table"))["y"] - plain < 60


def test_the_summary_strip_says_what_its_numbers_are(site, page):
    page.set_viewport_size(LAPTOP)
    page.goto(compare(site, "flask", "django"))
    first = page.locator(".cmp-summary-subjects li").first.inner_text()
    assert " of " in first and "dimensions" in first, first
    badges = page.locator(".cmp-summary-subjects li").first.locator(".cmp-count-badge")
    for i in range(badges.count()):
        text = badges.nth(i).inner_text()
        assert any(ch.isalpha() for ch in text), text  # a word, not only an icon and a number


def test_the_filters_look_openable(site, page):
    page.set_viewport_size(LAPTOP)
    page.goto(compare(site, "flask", "django"))
    summary = page.locator("details.cmp-tools > summary")
    marker = summary.evaluate("s => getComputedStyle(s, '::before').content")
    assert "▸" in marker
    assert summary.evaluate("s => parseFloat(getComputedStyle(s).borderTopWidth)") >= 1
    summary.click()
    assert "▾" in summary.evaluate("s => getComputedStyle(s, '::before').content")


def test_in_an_opened_cell_each_stance_sits_above_its_quote(site, page):
    page.set_viewport_size(LAPTOP)
    page.goto(compare(site, "flask", "django"))
    checked = 0
    for cell in page.locator("tr.cmp-row td:has(details)").all():
        if not cell.locator(".cmp-body blockquote").count():
            continue
        cell.locator("summary").click()
        pairs = cell.evaluate(
            """td => [...td.querySelectorAll('.cmp-body blockquote')].map(q => {
                let stance = q.closest('figure').querySelector('.stance');
                let prev = q.closest('figure').previousElementSibling;
                if (!stance && prev && prev.matches('.cmp-bears')) stance = prev;
                return stance ? [stance.getBoundingClientRect().bottom, q.getBoundingClientRect().top] : null;
            })"""
        )
        for pair in pairs:
            assert pair is not None
            assert pair[0] <= pair[1] + 1, pair
            checked += 1
        if checked > 20:
            break
    assert checked


def test_ticking_subjects_in_the_picker_keeps_the_featured_order(site, page):
    page.set_viewport_size(LAPTOP)
    page.goto(site.url + reverse("kb:compare-form"))
    page.locator("input[type=checkbox][value=flask]").check()
    page.locator("input[type=checkbox][value=django]").check()
    page.locator("form:has(input[type=checkbox][value=flask]) [type=submit]").first.click()
    page.wait_for_url("**/compare/*-vs-*/**")
    assert page.url.split("?")[0].endswith("/compare/flask-vs-django/"), page.url
