"""The editors' forms: clean text, the quote check and the evidence gate.

Every admin form and inline form derives from ``KBModelForm``, so text saved from
a browser textarea (CRLF line ends, stray spaces at line ends) reaches the
database, and from there ``export_content``, as clean LF text.
"""

from django import forms
from django.core.exceptions import ValidationError

from kb.evidence.verification import SourceCapture, not_quoted_message, source_capture
from kb.knowledge import models as m

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


UNVERIFIED_NOTE = (
    "This source has no captured text yet, so this excerpt cannot be checked: it is saved as unverified "
    "and readers see it as not checked here (captured elsewhere, or never captured). Attach the source's text "
    "on the source page to verify it; export_content then writes that text where other clones find it."
)


def capture_for(source):
    """What an excerpt of ``source`` is checked against: text attached in the same form, else the stored capture."""
    pending = getattr(source, "pending_capture", None)
    if pending is not None:
        return SourceCapture(source.slug, "", pending.fingerprint[0], pending.text)
    if source.pk is None:
        return SourceCapture(source.slug, "")
    return source_capture(source)


def quote_error(source, text):
    """Why ``text`` is not a quotation of ``source``'s stored capture, or None when it is or there is no capture."""
    if source is None or not text:
        return None
    capture = capture_for(source)
    if capture.text is None or capture.captured.contains(text):
        return None
    return not_quoted_message(source, text, capture)


class ExcerptForm(KBModelForm):
    """An excerpt must quote its source's stored capture verbatim (whitespace aside).

    In the Source page's inline, the ``source`` field is the parent source (with the
    text the editor is attaching in the same form, if any), so both places check the
    same way. Without any capture the excerpt is saved, marked unverified, and
    ``unverified_note`` says so.
    """

    unverified_note = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "text" in self.fields:
            self.fields["text"].help_text = (
                "The verbatim quotation: checked word for word (whitespace aside) against the source's captured "
                "text. For a source without a captured text it is saved as unverified."
            )

    def clean(self):
        cleaned = super().clean()
        source, text = cleaned.get("source"), cleaned.get("text")
        error = quote_error(source, text)
        if error:
            self.add_error("text", ValidationError(error, code="not_quoted"))
        elif source is not None and text and capture_for(source).text is None:
            self.unverified_note = UNVERIFIED_NOTE
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
