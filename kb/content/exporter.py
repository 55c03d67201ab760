"""Writing the database back as content files, in the canonical form ``load_content`` reads.

Empty optional fields are left out, records keep their display order, and files
that no longer have a record are removed, so the directory equals the database.
"""

import datetime
from collections import defaultdict
from pathlib import Path

from django.utils import timezone

from kb.content.files import (
    CLAIMS_DIR,
    CONTENT_DIRS,
    DIMENSIONS_FILE,
    FEATURED_FILE,
    KINDS_FILE,
    SNIPPETS_DIR,
    SOURCES_DIR,
    SUBJECTS_DIR,
    SYNONYMS_FILE,
)
from kb.content.yamlio import dump_yaml
from kb.knowledge import models as m


def _compact(pairs):
    """A mapping of the non-empty values, in the order given."""
    return {name: value for name, value in pairs if value not in (None, "", [], {})}


def _ref(excerpt):
    return f"{excerpt.source.slug}/{excerpt.key}" if excerpt else None


def _claim_ref(claim):
    return f"{claim.subject.slug}/{claim.key}" if claim else None


def _moment(value):
    """A stored date and time as the files write it: UTC, whole seconds."""
    return value.astimezone(datetime.UTC).replace(microsecond=0) if value else None


def _dates(obj):
    return [("added", _moment(obj.added)), ("changed", _moment(obj.changed))]


def _capture_fingerprint(source):
    """The capture a source's excerpts are checked against, as the files record it: never its text."""
    return _compact(
        [("sha256", source.capture_sha256), ("characters", source.capture_characters), ("captured", source.captured)]
    )


def export_files():
    """Every content file as ``{relative path: text}``."""
    files = {}
    kinds = m.SubjectKind.objects.order_by("order", "slug")
    files[KINDS_FILE] = dump_yaml(
        [_compact([("slug", k.slug), ("name", k.name), ("description", k.description)]) for k in kinds]
    )

    dimensions = defaultdict(list)
    for d in m.Dimension.objects.order_by("order", "slug"):
        dimensions[d.group_id].append(_compact([("slug", d.slug), ("name", d.name), ("description", d.description)]))
    files[DIMENSIONS_FILE] = dump_yaml(
        [
            _compact(
                [("slug", g.slug), ("name", g.name), ("description", g.description), ("dimensions", dimensions[g.pk])]
            )
            for g in m.DimensionGroup.objects.order_by("order", "slug")
        ]
    )

    featured = m.FeaturedComparison.objects.order_by("order", "path")
    if featured:
        files[FEATURED_FILE] = dump_yaml(
            [_compact([("path", f.path), ("title", f.title), ("note", f.note)]) for f in featured]
        )

    synonyms = m.SynonymGroup.objects.order_by("order", "term")
    if synonyms:
        files[SYNONYMS_FILE] = dump_yaml(
            [_compact([("term", g.term), ("words", g.words), ("note", g.note)]) for g in synonyms]
        )

    aliases = defaultdict(list)
    for alias in m.SubjectAlias.objects.select_related("subject").order_by("slug"):
        aliases[alias.subject_id].append(alias.slug)
    relations = defaultdict(list)
    for rel in m.SubjectRelation.objects.select_related("target").order_by("kind", "target__slug"):
        relations[rel.subject_id].append({"kind": rel.kind, "target": rel.target.slug})
    for s in m.Subject.objects.select_related("kind").order_by("slug"):
        files[f"{SUBJECTS_DIR}/{s.slug}.yaml"] = dump_yaml(
            _compact(
                [
                    ("name", s.name),
                    ("kind", s.kind.slug),
                    ("homepage", s.homepage),
                    ("first_release", s.first_release),
                    ("old_slugs", aliases[s.pk]),
                    ("relations", relations[s.pk]),
                    ("summary", s.summary),
                ]
            )
        )

    excerpts = defaultdict(list)
    for e in m.Excerpt.objects.order_by("order", "key"):
        excerpts[e.source_id].append(
            _compact([("key", e.key), ("locator", e.locator), ("speaker", e.speaker), *_dates(e), ("text", e.text)])
        )
    for src in m.Source.objects.order_by("slug"):
        files[f"{SOURCES_DIR}/{src.slug}.yaml"] = dump_yaml(
            _compact(
                [
                    ("title", src.title),
                    ("kind", src.kind),
                    ("author", src.author),
                    ("publisher", src.publisher),
                    ("url", src.url),
                    ("licence", src.licence),
                    ("published", src.published),
                    ("updated", src.updated_on),
                    ("archive", src.archive),
                    ("capture", _capture_fingerprint(src)),
                    ("notes", src.notes),
                    ("excerpts", excerpts[src.pk]),
                ]
            )
        )

    evidence = defaultdict(list)
    for ev in m.Evidence.objects.select_related("excerpt__source").order_by(
        "order", "excerpt__source__slug", "excerpt__key"
    ):
        evidence[ev.claim_id].append({"excerpt": _ref(ev.excerpt), "stance": ev.stance})
    claims = defaultdict(list)
    for c in m.Claim.objects.select_related("subject", "dimension", "superseded_by__subject").order_by("order", "key"):
        claims[c.subject.slug].append(
            _compact(
                [
                    ("key", c.key),
                    ("dimension", c.dimension.slug),
                    ("support", c.support),
                    ("applies_to", c.applies_to),
                    ("status", c.status),
                    ("outdated", c.outdated or None),
                    ("outdated_since", c.outdated_since),
                    ("superseded_by", _claim_ref(c.superseded_by)),
                    *_dates(c),
                    ("reviewed", c.reviewed),
                    ("cell", c.cell),
                    ("body", c.body),
                    ("editor_note", c.editor_note),
                    ("evidence", evidence[c.pk]),
                ]
            )
        )
    for subject_slug, records in claims.items():
        files[f"{CLAIMS_DIR}/{subject_slug}.yaml"] = dump_yaml(records)

    snippets = defaultdict(list)
    for sn in m.Snippet.objects.select_related("subject", "derived_from__source").order_by(
        "order", "subject__slug", "language"
    ):
        snippets[sn.task_id].append(
            _compact(
                [
                    ("subject", sn.subject.slug),
                    ("language", sn.language),
                    ("derived_from", _ref(sn.derived_from)),
                    ("explanation", sn.explanation),
                    ("source_note", sn.source_note),
                    ("runnable", None if sn.runnable else False),
                    ("not_runnable_reason", sn.not_runnable_reason),
                    *_dates(sn),
                    ("code", sn.code),
                ]
            )
        )
    for t in m.Task.objects.order_by("slug"):
        files[f"{SNIPPETS_DIR}/{t.slug}.yaml"] = dump_yaml(
            _compact(
                [("title", t.title), ("order", t.order), ("description", t.description), ("snippets", snippets[t.pk])]
            )
        )
    return files


def export_content(directory):
    """Write every content file into ``directory``; return (written, unchanged, removed) paths.

    What ``directory`` now says becomes the base of its next load (kb.content.sync); no other
    directory is marked, so an export to a scratch folder never hides admin work from ``content/``.
    """
    from kb.content.files import read_content
    from kb.content.sync import record_sync

    directory = Path(directory)
    synced = timezone.now()
    files = export_files()
    written, unchanged, removed = [], [], []
    for optional in (FEATURED_FILE, SYNONYMS_FILE):
        optional_path = directory / optional
        if optional not in files and optional_path.exists():
            optional_path.unlink()
            removed.append(optional_path)
    for sub in CONTENT_DIRS:
        (directory / sub).mkdir(parents=True, exist_ok=True)
        for path in sorted((directory / sub).glob("*.yaml")):
            if f"{sub}/{path.name}" not in files:
                path.unlink()
                removed.append(path)
    for relative, text in files.items():
        path = directory / relative
        if path.exists() and path.read_text(encoding="utf-8") == text:
            unchanged.append(path)
            continue
        path.write_text(text, encoding="utf-8")
        written.append(path)
    record_sync(directory, read_content(directory), synced, loaded=False)
    return written, unchanged, removed
