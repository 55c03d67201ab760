"""Readers' pages, one module per area."""

from kb.site.views.compare import compare_form, comparison, comparison_csv, comparison_json
from kb.site.views.pages import (
    claim_detail,
    dimension_detail,
    dimension_list,
    home,
    snippet_index,
    source_detail,
    source_list,
    subject_detail,
    subject_list,
    task_detail,
)
from kb.site.views.search import search

__all__ = [
    "claim_detail",
    "compare_form",
    "comparison",
    "comparison_csv",
    "comparison_json",
    "dimension_detail",
    "dimension_list",
    "home",
    "search",
    "snippet_index",
    "source_detail",
    "source_list",
    "subject_detail",
    "subject_list",
    "task_detail",
]
