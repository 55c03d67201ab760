"""The stylesheets: WCAG AA contrast in both colour schemes, print, focus, no web fonts."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import engines

CSS = Path(settings.BASE_DIR) / "static" / "css"
SITE = (CSS / "site.css").read_text()
PYGMENTS = (CSS / "pygments.css").read_text()
DARK = "@media (prefers-color-scheme: dark)"


def luminance(hex_colour):
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a, b):
    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def variables(block):
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\b", block))


LIGHT_VARS = variables(SITE.split(DARK)[0])
DARK_VARS = {**LIGHT_VARS, **variables(SITE.split(DARK)[1].split("/* Base")[0])}

TEXT_PAIRS = [
    ("fg", "bg"),
    ("fg", "bg-alt"),
    ("fg", "code-bg"),
    ("muted", "bg"),
    ("muted", "bg-alt"),
    ("accent", "bg"),
    ("accent", "bg-alt"),
    ("accent-fg", "accent"),
    ("mark-fg", "mark-bg"),
    ("note-fg", "note-bg"),
    ("preview-fg", "preview-bg"),
    *[(f"stance-{s}", bg) for s in ("supports", "contradicts", "qualifies") for bg in ("bg", "bg-alt")],
    *[
        (f"badge-{k}-fg", f"badge-{k}-bg")
        for k in (
            "built-in",
            "extension",
            "partial",
            "not-provided",
            "not-applicable",
            "unknown",
            "contested",
            "draft",
        )
    ],
]


@pytest.mark.parametrize(("scheme", "palette"), [("light", LIGHT_VARS), ("dark", DARK_VARS)])
@pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
def test_text_colours_reach_wcag_aa(scheme, palette, fg, bg):
    ratio = contrast(palette[fg], palette[bg])
    assert ratio >= 4.5, f"{scheme}: --{fg} on --{bg} is {ratio:.2f}:1"


@pytest.mark.parametrize(("scheme", "palette"), [("light", LIGHT_VARS), ("dark", DARK_VARS)])
def test_focus_outline_is_visible(scheme, palette):
    assert contrast(palette["focus"], palette["bg"]) >= 3


def test_shared_variables_exist_for_the_compare_pages():
    for name in ["fg", "bg", "muted", "accent", "border", "badge-built-in-bg", "badge-not-provided-fg"]:
        assert name in LIGHT_VARS and name in DARK_VARS


def test_dark_mode_print_and_focus_rules():
    assert DARK in SITE
    assert "@media print" in SITE
    assert ":focus-visible" in SITE
    assert "overflow-wrap: anywhere" in SITE  # long words and URLs wrap
    assert ".table-scroll" in SITE  # tables scroll in their own box


def test_no_web_fonts_or_remote_assets():
    for css in (SITE, PYGMENTS):
        assert "@import" not in css
        assert "@font-face" not in css
        assert "url(" not in css
    assert "system-ui" in SITE


def pygments_colours(block):
    return [c.lower() for c in re.findall(r"\.highlight \.\w+ \{[^}]*?(?<![-\w])color: (#[0-9a-fA-F]{3,6})", block)]


@pytest.mark.parametrize(
    ("block", "background"),
    [
        (PYGMENTS.split(DARK)[0], LIGHT_VARS["code-bg"]),
        (PYGMENTS.split(DARK)[1], DARK_VARS["code-bg"]),
    ],
    ids=["light", "dark"],
)
def test_pygments_token_colours_reach_wcag_aa(block, background):
    colours = pygments_colours(block)
    assert colours
    low = [(c, round(contrast(c, background), 2)) for c in colours if contrast(c, background) < 4.5]
    # Whitespace tokens (.w) carry no visible text; everything else must be readable.
    whitespace = {c.lower() for c in re.findall(r"\.highlight \.w \{ color: (#[0-9a-fA-F]{3,6})", block)}
    assert [c for c in low if c[0] not in whitespace] == []


@pytest.mark.parametrize(
    ("support", "icon"),
    [
        ("built-in", "✓"),
        ("extension", "⊕"),
        ("partial", "◐"),
        ("not-provided", "✗"),
        ("not-applicable", "⊘"),
        ("unknown", "?"),
        ("", "?"),
    ],
)
def test_support_badge_has_shape_and_words(support, icon):
    support_badge = engines["jinja2"].env.get_template("includes/claims.html").module.support_badge
    html = str(support_badge(support, "Words"))
    assert f'<span aria-hidden="true">{icon}</span>Words' in html
    assert f"badge--{support or 'unknown'}" in html
