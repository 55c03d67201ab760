"""How to cite a comparison: its URL, the date of its content, and BibTeX and CSL-JSON records.

The date of the content is the latest ``changed`` date among the published claims the
comparison shows (their ``updated`` time when a claim has no content date), so a citation
names the version of the content that was read.
"""

import re
from dataclasses import dataclass
from urllib.parse import quote

from django.db.models import Max
from django.db.models.functions import Coalesce

from kb.knowledge.models import COMPARE_SEPARATOR, Claim

# LaTeX's special characters, as BibTeX needs them written in a field.
_BIBTEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9:_-]+")
_WHITESPACE = re.compile(r"\s+")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True)
class Citation:
    key: str
    title: str
    url: str
    publisher: str
    content_date: object  # a date, or None for a comparison with no published claim

    @property
    def iso_date(self):
        return self.content_date.isoformat() if self.content_date else ""


def latest_content_date(subjects):
    """The latest content date of the published claims about ``subjects`` (one query), or None."""
    latest = (
        Claim.objects.published()
        .filter(subject__in=[subject.pk for subject in subjects])
        .aggregate(latest=Max(Coalesce("changed", "updated")))["latest"]
    )
    return latest.date() if latest else None


def for_comparison(subjects, url, publisher, *, content_date=None):
    """``content_date``: when the caller has it already (a built table); else it is read (one query)."""
    names = " vs ".join(subject.name for subject in subjects)
    key = _KEY_UNSAFE.sub("-", "kb-" + COMPARE_SEPARATOR.join(subject.slug for subject in subjects))
    return Citation(
        key=key,
        title=f"{names}: comparison",
        url=url,
        publisher=publisher,
        content_date=content_date or latest_content_date(subjects),
    )


def bibtex_escape(text):
    """Plain text as a BibTeX field's value: special characters escaped, on one line, braces balanced."""
    text = _WHITESPACE.sub(" ", text).strip()
    return "".join(_BIBTEX_SPECIAL.get(character, character) for character in text)


def _bibtex_url(url):
    """A URL safe in a BibTeX field: anything that could end or unbalance the field is percent-encoded."""
    return quote(url, safe=":/?=&-._~+,;@!'()*%")


def bibtex(citation):
    """A @misc record (BibTeX and biblatex both read it)."""
    fields = [
        ("title", "{" + bibtex_escape(citation.title) + "}"),  # double braces keep the subjects' capitals
        ("author", "{" + bibtex_escape(citation.publisher) + "}"),
        ("publisher", bibtex_escape(citation.publisher)),
        ("howpublished", r"\url{" + _bibtex_url(citation.url) + "}"),
        ("url", _bibtex_url(citation.url)),
    ]
    if citation.content_date:
        date = citation.content_date
        fields += [("year", str(date.year)), ("date", date.isoformat())]
        fields.append(("note", f"Content as of {date.isoformat()}"))
    lines = [f"@misc{{{citation.key},"]
    lines += [f"  {name} = {{{value}}}," for name, value in fields]
    if citation.content_date:
        lines.append(f"  month = {MONTHS[citation.content_date.month - 1]},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def csl_json(citation):
    """A CSL-JSON list of one item (what Zotero, Pandoc and citeproc read)."""
    item = {
        "id": citation.key,
        "type": "webpage",
        "title": citation.title,
        "author": [{"literal": citation.publisher}],
        "publisher": citation.publisher,
        "container-title": citation.publisher,
        "URL": citation.url,
    }
    if citation.content_date:
        date = citation.content_date
        item["issued"] = {"date-parts": [[date.year, date.month, date.day]]}
        item["note"] = f"Content as of {date.isoformat()}"
    return [item]
