"""The editors' forms: clean text, the quote check and the evidence gate.

Every admin form and inline form derives from ``KBModelForm``, so text saved from
a browser textarea (CRLF line ends, stray spaces at line ends) reaches the
database, and from there ``export_content``, as clean LF text.
"""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from . import models as m
from .quotes import archived_text, closest_passage, is_quoted

EVIDENCE_GATE_MESSAGE = (
    "A claim cannot be published without evidence: link at least one excerpt under “Evidence”, "
    "or save it as a draft or for review."
)


def clean_text(value):
    """LF line ends, no whitespace at the end of any line, none at the end of the text."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in value.split("\n")).rstrip()


class KBModelForm(forms.ModelForm):
    """Base form of every admin form: text fields are normalised before they are validated."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound:
            self.data = self._normalised_data(self.data)

    def _normalised_data(self, data):
        names = [self.add_prefix(name) for name, field in self.fields.items() if isinstance(field, forms.CharField)]
        if not any(name in data for name in names):
            return data
        data = data.copy()
        for name in names:
            if name not in data:
                continue
            if hasattr(data, "setlist"):
                data.setlist(name, [clean_text(v) if isinstance(v, str) else v for v in data.getlist(name)])
            elif isinstance(data[name], str):
                data[name] = clean_text(data[name])
        return data


# Excerpts: the quote check ------------------------------------------------------


def quote_error(source, text):
    """Why ``text`` is not a quotation of ``source``'s archived text, or None when it is (or cannot be checked)."""
    if source is None or not text:
        return None
    archive = archived_text(settings.KB_SOURCE_ARCHIVE, source.archive)
    if archive is None or is_quoted(text, archive):
        return None
    passage = whole_words(closest_passage(text, archive), archive)
    return (
        f"This text is not found word for word in the archived text of “{source.title}” ({source.archive}.txt). "
        f"The closest passage of the source reads: “{passage}”"
    )


def whole_words(passage, text):
    """``passage`` widened to whole words of ``text``, with an ellipsis where the text goes on."""
    start = text.find(passage)
    if not passage or start < 0:
        return passage
    end = start + len(passage)
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")


class ExcerptForm(KBModelForm):
    """An excerpt must quote its source verbatim (whitespace aside) when the source's text is archived.

    In the Source page's inline, the ``source`` field is the parent source (with
    the archive key the editor has just entered), so both places check the same way.
    """

    def clean(self):
        cleaned = super().clean()
        error = quote_error(cleaned.get("source"), cleaned.get("text"))
        if error:
            self.add_error("text", ValidationError(error, code="not_quoted"))
        return cleaned


# Claims: the evidence gate -----------------------------------------------------


class ClaimForm(KBModelForm):
    """A claim saved as published needs evidence.

    On the claim page the evidence inline decides (``EvidenceInlineFormSet``); when
    the form is posted without that inline (the history page's revert), the
    evidence already in the database must carry the claim.
    """

    evidence_prefix = "evidence"

    def clean(self):
        cleaned = super().clean()
        posted_with_inline = f"{self.evidence_prefix}-TOTAL_FORMS" in self.data
        if cleaned.get("status") == m.Status.PUBLISHED and not posted_with_inline:
            has_evidence = self.instance.pk is not None and self.instance.evidence.exists()
            if not has_evidence:
                self.add_error("status", ValidationError(EVIDENCE_GATE_MESSAGE, code="evidence_gate"))
        return cleaned


class LabelledRowsFormSet(forms.BaseInlineFormSet):
    """A tabular inline's fields named for screen readers: a table cell's input has no <label> of its own."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        row = (
            f"{self.model._meta.verbose_name} {index + 1}"
            if index is not None
            else f"new {self.model._meta.verbose_name}"
        )
        for field in form.fields.values():
            widget = getattr(field.widget, "widget", field.widget)  # inside RelatedFieldWidgetWrapper
            widget.attrs["aria-label"] = f"{field.label}, {row}"


class EvidenceInlineFormSet(LabelledRowsFormSet):
    """The claim's evidence rows: a published claim keeps at least one that is not being deleted."""

    def clean(self):
        super().clean()
        if self.instance.status != m.Status.PUBLISHED:
            return
        kept = [
            form
            for form in self.forms
            if hasattr(form, "cleaned_data")
            and form.cleaned_data.get("excerpt")
            and not form.cleaned_data.get("DELETE")
        ]
        if not kept:
            raise ValidationError(EVIDENCE_GATE_MESSAGE, code="evidence_gate")


class EvidenceForm(KBModelForm):
    """Moving the only evidence of a published claim to another claim would unpublish it in all but name."""

    def clean(self):
        cleaned = super().clean()
        old = self.instance
        if old.pk is not None and cleaned.get("claim") is not None and cleaned["claim"].pk != old.claim_id:
            claim = m.Claim.objects.select_related("subject", "dimension").get(pk=old.claim_id)
            if claim.is_published and not claim.evidence.exclude(pk=old.pk).exists():
                self.add_error(
                    "claim",
                    f"This is the only evidence of the published claim “{claim}”: "
                    "unpublish it or link another excerpt to it first.",
                )
        return cleaned
