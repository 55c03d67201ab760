"""Filters of a comparison table, as GET parameters, so that every filtered view is a link to share.

django-filter declares, validates and renders them; they are applied to the
table's rows in Python (the rows are already built from a fixed number of
queries), so filtering costs no query. An invalid value never fails the page:
django-filter leaves it out of ``cleaned_data`` (so it is ignored) and the
form's errors say so beside the form.
"""

from typing import NamedTuple

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from kb.knowledge.models import Dimension, Support

TRUE_VALUES = frozenset({"1", "on", "true", "yes"})
FALSE_VALUES = frozenset({"", "0", "off", "false", "no"})

# The GET parameters of a comparison page that are filters (kept by the subject
# picker, the "remove" links and the open-data links).
FILTER_PARAMS = ("group", "q", "support", "source", "only_differences", "only_shared", "only_contested")
SWITCHES = ("only_differences", "only_shared", "only_contested")


class Control(NamedTuple):
    name: str
    id: str
    label: str
    kind: str  # "select", "text" or "switch"
    value: str  # as sent (a select shows none of its options as chosen when it is not one of them)
    checked: bool
    choices: list  # [(value, label, selected)] of a select
    maxlength: int | None
    help_text: str
    errors: list
    describedby: str  # the ids of the help text and of the errors, for aria-describedby


class SwitchInput(forms.CheckboxInput):
    """A checkbox that hands its raw value to the field, so that nonsense can be reported, not guessed.

    (Django's CheckboxInput turns any unknown string, even "0" or "maybe", into True.)
    """

    def __init__(self, attrs=None):
        super().__init__(attrs, check_test=lambda value: str(value).strip().lower() in TRUE_VALUES)

    def format_value(self, value):
        return "1"

    def value_from_datadict(self, data, files, name):
        return data.get(name)


class SwitchField(forms.Field):
    widget = SwitchInput
    default_error_messages = {
        "invalid": "“%(value)s” is neither on nor off, so it was ignored (use 1 for on).",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        if value is None or isinstance(value, bool):
            return bool(value)
        text = str(value).strip().lower()
        if text in TRUE_VALUES:
            return True
        if text in FALSE_VALUES:
            return False
        raise ValidationError(self.error_messages["invalid"], code="invalid", params={"value": str(value)[:40]})

    def validate(self, value):
        """Off is a valid answer, not a missing one."""


class SwitchFilter(django_filters.Filter):
    field_class = SwitchField


class ComparisonFilter(django_filters.FilterSet):
    """Narrows a ``kb.comparison.table.ComparisonTable``'s rows: ``ComparisonFilter(request.GET, table=table)``."""

    group = django_filters.ChoiceFilter(
        label="Group",
        empty_label="All groups",
        method="filter_group",
        error_messages={"invalid_choice": "There is no dimension group “%(value)s”, so that filter was ignored."},
    )
    q = django_filters.CharFilter(
        label="Dimension name contains",
        method="filter_name",
        max_length=100,
        error_messages={"max_length": "Search for at most %(limit_value)d characters; that filter was ignored."},
    )
    support = django_filters.ChoiceFilter(
        label="Support level",
        choices=Support.choices,
        empty_label="Any support level",
        method="filter_support",
        error_messages={"invalid_choice": "“%(value)s” is not a support level, so that filter was ignored."},
    )
    source = django_filters.ChoiceFilter(
        label="Cites source",
        empty_label="Any source",
        method="filter_source",
        error_messages={
            "invalid_choice": "No claim in this comparison cites a source “%(value)s”, so that filter was ignored."
        },
    )
    only_differences = SwitchFilter(
        label="Only rows where support levels differ",
        help_text="Rows where at least two subjects have a claim and their support levels differ "
        "(on dimensions without support levels, their answers differ). Outdated claims do not count.",
        method="filter_differences",
    )
    only_shared = SwitchFilter(
        label="Only rows at least two subjects answer",
        help_text="Hides rows where fewer than two of the compared subjects have a claim.",
        method="filter_shared",
    )
    only_contested = SwitchFilter(label="Only contested rows", method="filter_contested")

    class Meta:
        model = Dimension
        fields = []

    def __init__(self, data=None, *, table, request=None, prefix=None):
        # The queryset is never evaluated: rows are filtered in Python (see filter_rows).
        super().__init__(data, queryset=Dimension.objects.none(), request=request, prefix=prefix)
        self.table = table
        self.filters["group"].extra["choices"] = [(group.slug, group.name) for group in table.groups]
        self.filters["source"].extra["choices"] = [(source.slug, source.title) for source in table.sources]

    # Applying ------------------------------------------------------------------

    def filter_rows(self, rows):
        """The rows that pass every valid filter; invalid values are left out by the form, so ignored."""
        rows = list(rows)
        if not self.is_bound:
            return rows
        self.errors  # noqa: B018 (validates the form, as FilterSet.qs does)
        for name, value in self.form.cleaned_data.items():
            rows = self.filters[name].filter(rows, value)
        return rows

    @property
    def active(self):
        """{parameter: value} of the filters in effect (valid and not empty)."""
        if not self.is_bound or not hasattr(self.form, "cleaned_data"):
            return {}
        return {name: value for name, value in self.form.cleaned_data.items() if value not in ("", None, False)}

    @property
    def switch_controls(self):
        return [self._control(name) for name in SWITCHES]

    @property
    def choice_controls(self):
        return [self._control(name) for name in ("group", "q", "support", "source")]

    def _control(self, name):
        """What the template needs to draw a filter's control (templates/jinja2/kb/includes/compare_filters.html).

        The controls are drawn there, not by Django's widget templates: the same markup, at a
        fraction of the cost on a page that must be fast.
        """
        field = self.form[name]
        raw = field.value() if self.is_bound else None
        value = "" if raw is None else str(raw)
        widget = field.field.widget
        if isinstance(widget, SwitchInput):
            kind, choices = "switch", ()
        elif isinstance(widget, forms.Select):
            kind = "select"
            choices = [(str(key), label, str(key) == value) for key, label in field.field.choices]
        else:
            kind, choices = "text", ()
        return Control(
            name=name,
            id=field.auto_id,
            label=field.label,
            kind=kind,
            value=value,
            checked=kind == "switch" and value.strip().lower() in TRUE_VALUES,
            choices=choices,
            maxlength=getattr(field.field, "max_length", None),
            help_text=field.help_text,
            errors=list(field.errors),
            describedby=field.aria_describedby,
        )

    # One method per filter: (rows, name, value) -> rows -------------------------

    def filter_group(self, rows, name, value):
        return [row for row in rows if row.group.slug == value]

    def filter_name(self, rows, name, value):
        text = value.strip().casefold()
        if not text:
            return rows
        return [row for row in rows if text in row.dimension.name.casefold()]

    def filter_support(self, rows, name, value):
        return [row for row in rows if value in row.supports]

    def filter_source(self, rows, name, value):
        return [row for row in rows if value in row.source_slugs]

    def filter_differences(self, rows, name, value):
        return [row for row in rows if row.differs] if value else rows

    def filter_shared(self, rows, name, value):
        return [row for row in rows if row.claimed_count >= 2] if value else rows

    def filter_contested(self, rows, name, value):
        return [row for row in rows if row.contested] if value else rows


def keep_rows(query):
    """What a view filtered by ``query`` (its filter parameters) shows of a table: ``keep(table)`` gives the rows,
    or None when the query filters nothing (every row is shown)."""
    if not query:
        return None

    def keep(table):
        return ComparisonFilter(query, table=table).filter_rows(table.rows)

    return keep
