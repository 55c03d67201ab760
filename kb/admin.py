"""The editors' admin (placeholder registration; the curated admin builds on it)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from . import models as m

for model in (
    m.SubjectKind, m.Subject, m.SubjectAlias, m.SubjectRelation, m.DimensionGroup, m.Dimension,
    m.Source, m.Excerpt, m.Claim, m.Evidence, m.Task, m.Snippet,
):  # fmt: skip
    admin.site.register(model, SimpleHistoryAdmin)
