"""Screenshots of a page at a laptop's and a phone's size, and where its table starts.

    .venv/bin/python scripts/screenshots.py http://127.0.0.1:8000/compare/flask-vs-django/ OUTDIR [--name NAME]

Writes NAME-1280x900.png and NAME-375x812.png (the first screen, as a reader sees it on
load) to OUTDIR and prints, for each size, the top of the table's first data row, whether
two subjects' cells of that row are both fully on screen, and whether the page scrolls
sideways. Uses Debian's Chromium (``make chromium``), as the browser tests do.
"""

import argparse
import json
from pathlib import Path

from playwright.sync_api import sync_playwright

SIZES = [(1280, 900), (375, 812)]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The first data row: the old table (before the Jinja2 templates) and this one both mark it so.
MEASURE = """() => {
    const row = document.querySelector("tr.cmp-row, tbody tr:not(.cmp-group-row)");
    const viewport = {width: window.innerWidth, height: window.innerHeight};
    if (!row) return {row: null, viewport};
    const cells = [...row.querySelectorAll("td")].slice(0, 2).map((cell) => cell.getBoundingClientRect());
    const inside = (box) =>
        box.left >= 0 && box.right <= viewport.width && box.top >= 0 && box.bottom <= viewport.height;
    return {
        viewport,
        first_row_top: Math.round(row.getBoundingClientRect().top),
        two_cells_on_screen: cells.length === 2 && cells.every(inside),
        page_scrolls_sideways: document.documentElement.scrollWidth > viewport.width,
    };
}"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--name", default="page")
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for width, height in SIZES:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(args.url, wait_until="load")
            path = args.outdir / f"{args.name}-{width}x{height}.png"
            page.screenshot(path=path)
            print(json.dumps({"size": f"{width}x{height}", "file": str(path), **page.evaluate(MEASURE)}))
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
