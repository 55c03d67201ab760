"""Django's admin autodiscovery imports ``kb.admin``: the editors' admin lives in :mod:`kb.editing.admin`."""

from kb.editing import admin  # noqa: F401
