"""A comparison's link-preview picture: a 1200x630 PNG of its subjects and their support levels.

Drawn with Pillow and its bundled font (no font files to install), from the read model's
cells (kb.comparison.table.stored_cells): current published claims only, an outdated claim never
drives a count.

One picture per subject *set*: whatever order a comparison's URL names its subjects in, its picture
shows them in slug order, so the 40,320 orders of 8 subjects are drawn (and kept) once, and a
visitor cannot make the cache hold more pictures than there are sets of subjects they ask for.
Pictures are kept in the shared cache (kb.ops.shared_cache: bytes, any failure a miss) under the
database's epoch and content generation (kb.knowledge.models.ContentVersion), so a content change
or a recreated database draws them afresh.
"""

import io
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db import router
from PIL import Image, ImageDraw, ImageFont

from kb.comparison.table import stored_cells
from kb.knowledge.models import ContentVersion, Support
from kb.ops.shared_cache import shared_cache

WIDTH, HEIGHT = 1200, 630  # what Facebook, LinkedIn, X and chat apps show at full size
MARGIN = 56
SUPPORT_ORDER = [value for value, _label in Support.choices]
SUPPORT_LABELS = dict(Support.choices)
# Colour with the word and the count beside it in the key: never colour alone.
SUPPORT_COLOURS = {
    Support.BUILT_IN: "#1a7f37",
    Support.EXTENSION: "#0969da",
    Support.PARTIAL: "#9a6700",
    Support.NOT_PROVIDED: "#cf222e",
    Support.NOT_APPLICABLE: "#57606a",
    Support.UNKNOWN: "#8c959f",
}
BACKGROUND, INK, MUTED, BAND = "#ffffff", "#1f2328", "#57606a", "#0a58b0"


@dataclass
class SubjectCounts:
    name: str
    counts: dict = field(default_factory=dict)  # support -> claims
    dimensions: int = 0

    @property
    def total(self):
        return sum(self.counts.values())


def subject_counts(subjects):
    """[SubjectCounts] in the subjects' order, from the read model's cells (one query): current published claims."""
    by_id = {subject.pk: SubjectCounts(subject.name) for subject in subjects}
    for cell in stored_cells(list(by_id)):
        supports = cell.published_supports
        if supports is None:
            continue
        found = by_id[cell.subject.pk]
        found.dimensions += 1
        for support in supports:
            if support:
                found.counts[support] = found.counts.get(support, 0) + 1
    return [by_id[subject.pk] for subject in subjects]


@lru_cache(maxsize=16)
def _font(size):
    return ImageFont.load_default(size=size)


def _fit(draw, text, size, width, smallest=24):
    """The font (shrunk down to ``smallest``) and the text (cut with "…" if it still overflows) that fit ``width``."""
    while size > smallest and draw.textlength(text, font=_font(size)) > width:
        size -= 2
    font = _font(size)
    if draw.textlength(text, font=font) <= width:
        return font, text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return font, text.rstrip() + "…"


def draw(title, rows, site_name):
    """The PNG bytes of the picture."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    pen = ImageDraw.Draw(image)
    pen.rectangle([0, 0, WIDTH, 72], fill=BAND)
    pen.text((MARGIN, 36), site_name, font=_font(30), fill="#ffffff", anchor="lm")
    font, text = _fit(pen, title, 60, WIDTH - 2 * MARGIN, smallest=34)
    pen.text((MARGIN, 112), text, font=font, fill=INK, anchor="lt")
    pen.text(
        (MARGIN, 190),
        "Side by side, every cell quoted from its sources. Claims by support level:",
        font=_font(26),
        fill=MUTED,
        anchor="lt",
    )
    legend_top = HEIGHT - 64
    top, bottom = 240, legend_top - 24
    row_height = min(84, (bottom - top) // max(len(rows), 1))
    name_width, count_width = 270, 170
    bar_left, bar_right = MARGIN + name_width + 16, WIDTH - MARGIN - count_width
    most = max([row.total for row in rows] + [1])
    for index, row in enumerate(rows):
        y = top + index * row_height
        middle = y + row_height // 2
        font, name = _fit(pen, row.name, min(34, row_height - 14), name_width, smallest=16)
        pen.text((MARGIN, middle), name, font=font, fill=INK, anchor="lm")
        bar_top, bar_bottom = y + row_height * 0.18, y + row_height * 0.82
        x = bar_left
        for support in SUPPORT_ORDER:
            count = row.counts.get(support, 0)
            if not count:
                continue
            width = (bar_right - bar_left) * count / most
            pen.rectangle([x, bar_top, x + width - 2, bar_bottom], fill=SUPPORT_COLOURS[support])
            label_font = _font(max(14, min(26, int(bar_bottom - bar_top) - 8)))
            if pen.textlength(str(count), font=label_font) + 8 < width:
                pen.text((x + width / 2, middle), str(count), font=label_font, fill="#ffffff", anchor="mm")
            x += width
        font = _font(max(14, min(24, row_height - 30)))
        pen.text((WIDTH - MARGIN, middle), f"{row.dimensions} dimensions", font=font, fill=MUTED, anchor="rm")
    x = MARGIN
    for support in SUPPORT_ORDER:
        label = SUPPORT_LABELS[support]
        pen.rectangle([x, legend_top + 6, x + 24, legend_top + 30], fill=SUPPORT_COLOURS[support])
        pen.text((x + 32, legend_top + 18), label, font=_font(22), fill=INK, anchor="lm")
        x += 32 + pen.textlength(label, font=_font(22)) + 28
    out = io.BytesIO()
    image.save(out, format="PNG")  # zlib level 6: a few per cent bigger than optimize=True, three times faster
    return out.getvalue()


def preview_png(subjects, site_name):
    """The picture of this set of subjects (in slug order), from the cache when the content has not changed."""
    subjects = sorted(subjects, key=lambda subject: subject.slug)
    state = ContentVersion.objects.using(router.db_for_write(ContentVersion)).state()
    key = f"kb:preview-image:{state.key}:" + "-vs-".join(subject.slug for subject in subjects)
    png = shared_cache.get(key)
    if png is None:
        title = " vs ".join(subject.name for subject in subjects)
        png = draw(title, subject_counts(subjects), site_name)
        shared_cache.set(key, png, settings.KB_PREVIEW_IMAGE_SECONDS)
    return png
