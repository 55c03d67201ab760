"""A claim's public history (issue 19): its versions, what changed in each, and the comparison as it stood then.

Built from django-simple-history's records in a fixed number of queries whatever the length of the
history: the claim's versions, its evidence's versions, the excerpts they quote (with their sources),
the featured comparisons and, when none has the claim's subject, the subject's peers (for the
comparison to link), and the database's epoch. Readers see only what was public: the states in
which the claim was published, and the moment it was withdrawn; a draft's text never shows.
Editors are never named: a change is by "an editor", by "content files" (``load_content``) or,
with neither, by "a script".

Each version carries the content generation in which readers first saw it
(``HistoricalClaim.content_generation``, stamped by ``kb.knowledge.signals``), so it links to the
comparison pinned at ``<epoch>-<generation>`` (``kb:compare-pinned``) where that view exists.
"""

from dataclasses import dataclass, field
from difflib import SequenceMatcher

from kb.comparison.history import version_name
from kb.comparison.marks import STANCE_LABELS, STATUS_LABELS, SUPPORT_LABELS
from kb.comparison.table import pinned_url
from kb.content.loader import CHANGE_REASON as CONTENT_FILES_REASON
from kb.knowledge import models as m

FIELDS = (
    ("cell", "Cell"),
    ("support", "Support"),
    ("applies_to", "Applies to"),
    ("body", "Text"),
    ("editor_note", "Editor's note"),
    ("outdated", "Outdated"),
    ("outdated_since", "Outdated since"),
    ("status", "Status"),
)
TEXT_FIELDS = {"cell", "body", "editor_note"}
CONTEXT_WORDS = 6  # unchanged words kept on each side of a change in a diff


def word_diff(old, new):
    """[(op, words)] with op "same", "del" or "ins"; long unchanged stretches shortened to their ends."""
    a, b = (old or "").split(), (new or "").split()
    ops = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            words = a[i1:i2]
            if len(words) > 2 * CONTEXT_WORDS:
                first = not ops
                last = i2 == len(a)
                head = [] if first else words[:CONTEXT_WORDS]
                tail = [] if last else words[-CONTEXT_WORDS:]
                words = [*head, "…", *tail]
            ops.append(("same", " ".join(words)))
            continue
        if i2 > i1:
            ops.append(("del", " ".join(a[i1:i2])))
        if j2 > j1:
            ops.append(("ins", " ".join(b[j1:j2])))
    return ops


def shown(name, value):
    if name == "support":
        return SUPPORT_LABELS.get(value, "none") if value else "none"
    if name == "status":
        return STATUS_LABELS.get(value, value)
    if name == "outdated":
        return "yes" if value else "no"
    return value or ""


@dataclass
class FieldChange:
    name: str
    label: str
    old: str
    new: str
    diff: list = field(default_factory=list)  # for texts: word_diff(old, new)


@dataclass
class EvidenceChange:
    what: str  # "added", "removed", "stance"
    excerpt: object  # an Excerpt with its source, or None when it no longer exists
    stance: str
    old_stance: str = ""

    @property
    def stance_label(self):
        return STANCE_LABELS.get(self.stance, self.stance)

    @property
    def old_stance_label(self):
        return STANCE_LABELS.get(self.old_stance, self.old_stance)


@dataclass
class Version:
    number: int
    when: object
    by: str
    reason: str
    first: bool
    withdrawn: bool
    changes: list
    evidence: list
    generation: int | None
    pinned_url: str | None = None


def who(record):
    if record["history_change_reason"] == CONTENT_FILES_REASON:
        return "content files"
    return "an editor" if record["history_user_id"] else "a script"


def reason_of(record):
    reason = (record["history_change_reason"] or "").strip()
    if reason == CONTENT_FILES_REASON:
        return ""
    return reason.removeprefix("admin: ")


def evidence_states(records, cut_offs):
    """The claim's evidence {evidence id: (excerpt id, stance)} just before each cut-off time (None: all)."""
    states, current, index = [], {}, 0
    for cut in cut_offs:
        while index < len(records) and (cut is None or records[index]["history_date"] < cut):
            record = records[index]
            if record["history_type"] == "-":
                current.pop(record["id"], None)
            else:
                current[record["id"]] = (record["excerpt_id"], record["stance"])
            index += 1
        states.append(dict(current))
    return states


def evidence_changes(old, new, excerpts):
    before = {excerpt: stance for excerpt, stance in old.values()}
    after = {excerpt: stance for excerpt, stance in new.values()}
    changes = []
    for excerpt, stance in after.items():
        if excerpt not in before:
            changes.append(EvidenceChange("added", excerpts.get(excerpt), stance))
        elif before[excerpt] != stance:
            changes.append(EvidenceChange("stance", excerpts.get(excerpt), stance, before[excerpt]))
    changes += [
        EvidenceChange("removed", excerpts.get(excerpt), stance)
        for excerpt, stance in before.items()
        if excerpt not in after
    ]
    return changes


def field_changes(old, new):
    changes = []
    for name, label in FIELDS:
        if old is not None and old[name] == new[name]:
            continue
        if old is None and not new[name]:
            continue
        before, after = (
            ("", shown(name, new[name])) if old is None else (shown(name, old[name]), shown(name, new[name]))
        )
        diff = word_diff(before, after) if name in TEXT_FIELDS and old is not None else []
        changes.append(FieldChange(name, label, before, after, diff))
    return changes


def comparison_subjects(claim):
    """The subjects of the comparison a version links to: a featured one with the claim's subject, else its
    subject beside the first other subject of its kind (one or two queries)."""
    slug = claim.subject.slug
    featured = m.FeaturedComparison.objects.filter(path__contains=slug).order_by("order", "path")
    peer = (
        m.Subject.objects.filter(kind_id=claim.subject.kind_id).exclude(pk=claim.subject_id).order_by("name")
    ).values_list("slug", flat=True)[:1]
    for comparison in featured:
        if slug in comparison.slugs:
            return comparison.slugs
    return [slug, *peer]


def version(versions, record, first, withdrawn=False, changes=(), evidence=()):
    return Version(
        number=len(versions) + 1,
        # The content's own date (from the files, or the edit's time), not the time a load wrote the record.
        when=record["changed"] or record["history_date"],
        by=who(record),
        reason=reason_of(record),
        first=first,
        withdrawn=withdrawn,
        changes=list(changes),
        evidence=list(evidence),
        generation=record["content_generation"],
    )


def claim_history(claim):
    """The public versions of ``claim``, newest first."""
    names = [name for name, _label in FIELDS]
    records = list(
        m.Claim.history.model.objects.filter(id=claim.pk)
        .order_by("history_date", "history_id")
        .values(
            "history_date",
            "history_type",
            "history_user_id",
            "history_change_reason",
            "content_generation",
            "changed",
            *names,
        )
    )
    evidence_records = list(
        m.Evidence.history.model.objects.filter(claim_id=claim.pk)
        .order_by("history_date", "history_id")
        .values("id", "excerpt_id", "stance", "history_type", "history_date")
    )
    excerpt_ids = {record["excerpt_id"] for record in evidence_records}
    excerpts = m.Excerpt.objects.select_related("source").in_bulk(excerpt_ids)
    slugs = comparison_subjects(claim)
    epoch = m.ContentVersion.objects.state().epoch

    records = [record for record in records if record["history_type"] != "-"]
    cut_offs = [record["history_date"] for record in records[1:]] + [None]
    states = evidence_states(evidence_records, cut_offs)

    versions, previous, previous_evidence = [], None, {}
    for record, evidence in zip(records, states, strict=True):
        public = record["status"] == m.Status.PUBLISHED
        was_public = previous is not None and previous["status"] == m.Status.PUBLISHED
        if not public and not was_public:
            continue  # a draft's text is not public
        if not public:  # withdrawn: say so, show nothing of the draft
            versions.append(version(versions, record, first=False, withdrawn=True))
            previous, previous_evidence = record, {}
            continue
        first = not was_public
        changes = field_changes(None if first else previous, record)
        changes = [change for change in changes if change.name != "status"]
        evidence_diff = evidence_changes({} if first else previous_evidence, evidence, excerpts)
        if not first and not changes and not evidence_diff:
            if versions:  # the same save's second record (dates): it is seen from its generation on
                versions[-1].generation = record["content_generation"] or versions[-1].generation
            previous, previous_evidence = record, evidence
            continue
        versions.append(version(versions, record, first=first, changes=changes, evidence=evidence_diff))
        previous, previous_evidence = record, evidence
    for shown_version in versions:
        if not shown_version.withdrawn and len(slugs) >= 2 and shown_version.generation is not None:
            shown_version.pinned_url = pinned_url(slugs, version_name(epoch, shown_version.generation))
    return list(reversed(versions)), slugs
