"""The icons and labels of support levels and stances, defined once for every page, export and template.

Each icon is a shape, so that no badge relies on colour alone; the words come from the choices'
labels. Templates reach them as the ``marks`` global (kb.site.jinja2).
"""

from kb.knowledge.models import Stance, Status, Support

SUPPORT_ICONS = {
    Support.BUILT_IN: "✓",
    Support.EXTENSION: "⊕",
    Support.PARTIAL: "◐",
    Support.NOT_PROVIDED: "✗",
    Support.NOT_APPLICABLE: "⊘",
    Support.UNKNOWN: "?",
}
STANCE_ICONS = {Stance.SUPPORTS: "▲", Stance.CONTRADICTS: "▼", Stance.QUALIFIES: "◆"}
SUPPORT_LABELS = dict(Support.choices)
STANCE_LABELS = dict(Stance.choices)
STATUS_LABELS = dict(Status.choices)
# Badges that are not support levels: a contested cell, and a claim not yet published.
OTHER_BADGE_ICONS = {"contested": "⚑", Status.DRAFT: "✎", Status.REVIEW: "✎"}


def badge_icon(value):
    """The icon of a badge: a support level, "contested", "draft" or "review"; "?" for anything else."""
    return SUPPORT_ICONS.get(value) or OTHER_BADGE_ICONS.get(value) or "?"


class Marks:
    """What templates print for a support level or a stance (the ``marks`` template global)."""

    support_icons = SUPPORT_ICONS
    stance_icons = STANCE_ICONS
    support_labels = SUPPORT_LABELS
    stance_labels = STANCE_LABELS
    badge_icon = staticmethod(badge_icon)
