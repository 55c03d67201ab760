"""The Source form of the admin: attaching a capture by upload or paste.

The text attached is extracted and fingerprinted exactly as ``capture_source`` does
(``kb.evidence.captures``), and the source's excerpts in the same form are checked against it.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from kb.editing.admin_forms import KBModelForm
from kb.evidence import captures
from kb.evidence.verification import excerpts_not_in
from kb.knowledge.models import Capture

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
ACCEPTED = ".txt, .html, .htm"
TEXT_TYPES = {"text/plain", "text/html", "application/xhtml+xml", "application/octet-stream", ""}


class SourceForm(KBModelForm):
    capture_file = forms.FileField(
        required=False,
        label="Upload its text",
        help_text=f"A plain-text ({ACCEPTED.split(', ')[0]}) or HTML ({ACCEPTED.split(', ', 1)[1]}) file of "
        f"at most {filesizeformat(MAX_UPLOAD_BYTES)}. The main text of an HTML page is extracted; menus and "
        "footers are left out.",
        widget=forms.ClearableFileInput(attrs={"accept": ".txt,.html,.htm,text/plain,text/html"}),
    )
    capture_text = forms.CharField(
        required=False,
        label="Or paste its text",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="The source's main text as plain text.",
    )
    replace_capture = forms.BooleanField(
        required=False,
        label="Replace the stored capture",
        help_text="Needed when the source already has a captured text with another fingerprint.",
    )

    def clean_capture_file(self):
        upload = self.cleaned_data.get("capture_file")
        if not upload:
            return None
        name = upload.name or "the file"
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                f"“{name}” is {filesizeformat(upload.size)}; a captured text may be at most "
                f"{filesizeformat(MAX_UPLOAD_BYTES)}.",
                code="too_large",
            )
        kind = captures.kind_of_file(name)
        content_type = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
        if kind is None or content_type not in TEXT_TYPES:
            raise ValidationError(
                f"“{name}” is not a plain-text or HTML file: upload a {ACCEPTED} file.", code="wrong_type"
            )
        try:
            return captures.extract(upload.read(), name, kind)
        except captures.CaptureError as error:
            raise ValidationError(str(error), code="unreadable") from None

    def clean(self):
        cleaned = super().clean()
        extracted, pasted = cleaned.get("capture_file"), cleaned.get("capture_text")
        if extracted and pasted:
            raise ValidationError("Upload a file or paste the text, not both.", code="two_captures")
        if pasted:
            try:
                extracted = captures.from_pasted(pasted)
            except captures.CaptureError as error:
                self.add_error("capture_text", str(error))
                return cleaned
        if not extracted:
            return cleaned
        self._check_replacement(extracted, cleaned.get("replace_capture"))
        self.instance.pending_capture = extracted  # the excerpt inline checks against it (admin_forms.capture_for)
        return cleaned

    def _check_replacement(self, extracted, replace):
        source = self.instance
        if source.pk is None or replace:
            return
        old = captures_of(source)
        if old is None or old.sha256 == extracted.fingerprint[0]:
            return
        broken = excerpts_not_in(source, extracted.text)
        which = f" These excerpts would stop matching: {', '.join(broken)}." if broken else ""
        raise ValidationError(
            f"This source already has a captured text with another fingerprint ({old.sha256[:12]}, from "
            f"{old.origin}).{which} Tick “Replace the stored capture” to store the new one.",
            code="capture_conflict",
        )


def captures_of(source):
    return Capture.objects.filter(source=source).only("sha256", "origin").first()
