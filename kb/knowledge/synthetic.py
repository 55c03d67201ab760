"""A synthetic knowledge base of any size, for benchmarks and load tests.

Reproducible (a seeded random generator), written in bulk (no save per row), and
kept apart from real content: every synthetic record's slug starts with
``synthetic``, and generating again replaces the previous synthetic records.
"""

import random
from dataclasses import dataclass

from django.db import transaction

from kb.knowledge import models as m
from kb.knowledge.signals import bulk_write, content_changed
from kb.site import search_index

PREFIX = "synthetic"
BATCH = 2000
WORDS = [
    *("fast", "flexible", "secure", "simple", "robust", "modular", "async", "typed", "tested", "documented"),
    *("mature", "minimal", "batteries", "routing", "templates", "forms", "admin", "cache", "queue", "signals"),
    *("plugins", "migrations", "sessions", "streaming", "websockets"),
]


@dataclass(frozen=True)
class Size:
    subjects: int
    dimensions: int
    claims_per_cell: int = 1
    excerpts_per_claim: int = 1
    seed: int = 1

    @property
    def groups(self):
        return max(1, min(12, self.dimensions // 10 or 1))

    @property
    def sources(self):
        return max(1, self.subjects // 5)


def _sentence(rng, subject, dimension, n):
    words = " ".join(rng.choice(WORDS) for _ in range(8))
    return f"{subject} on {dimension} is {words} (statement {n})."


def _delete_previous():
    with bulk_write():
        m.Claim.objects.filter(subject__slug__startswith=PREFIX).delete()
        m.Task.objects.filter(slug__startswith=PREFIX).delete()
        m.Source.objects.filter(slug__startswith=PREFIX).delete()
        m.Subject.objects.filter(slug__startswith=PREFIX).delete()
        m.Dimension.objects.filter(slug__startswith=PREFIX).delete()
        m.DimensionGroup.objects.filter(slug__startswith=PREFIX).delete()
        m.SubjectKind.objects.filter(slug__startswith=PREFIX).delete()


def _bulk(model, objects, progress, label):
    for start in range(0, len(objects), BATCH):
        model.objects.bulk_create(objects[start : start + BATCH])
        progress(label, min(start + BATCH, len(objects)), len(objects))


def _rendered(objects):
    for obj in objects:
        obj.render()
    return objects


@transaction.atomic
def generate(size, progress=lambda label, done, total: None):
    """Build the synthetic knowledge base of ``size``; return counts by model name."""
    rng = random.Random(size.seed)
    _delete_previous()
    kind = m.SubjectKind.objects.create(slug=PREFIX, name="Synthetic subject", order=999)
    groups = [
        m.DimensionGroup(slug=f"{PREFIX}-group-{g}", name=f"Synthetic group {g}", order=1000 + g)
        for g in range(1, size.groups + 1)
    ]
    _bulk(m.DimensionGroup, groups, progress, "groups")
    groups = list(m.DimensionGroup.objects.filter(slug__startswith=PREFIX).order_by("order"))
    dimensions = _rendered(
        [
            m.Dimension(
                slug=f"{PREFIX}-dimension-{d}",
                name=f"Synthetic dimension {d}",
                group=groups[(d - 1) * len(groups) // size.dimensions],
                description=f"What synthetic subjects do about aspect {d}.",
                order=d,
            )
            for d in range(1, size.dimensions + 1)
        ]
    )
    _bulk(m.Dimension, dimensions, progress, "dimensions")
    subjects = _rendered(
        [
            m.Subject(slug=f"{PREFIX}-{s}", name=f"Synthetic {s}", kind=kind, summary=f"Synthetic subject number {s}.")
            for s in range(1, size.subjects + 1)
        ]
    )
    _bulk(m.Subject, subjects, progress, "subjects")
    sources = [
        m.Source(slug=f"{PREFIX}-source-{n}", title=f"Synthetic source {n}", author="Generator", publisher="Bench")
        for n in range(1, size.sources + 1)
    ]
    _bulk(m.Source, sources, progress, "sources")
    subjects = list(m.Subject.objects.filter(slug__startswith=f"{PREFIX}-").order_by("pk"))
    dimensions = list(m.Dimension.objects.filter(slug__startswith=PREFIX).order_by("order"))
    sources = list(m.Source.objects.filter(slug__startswith=PREFIX).order_by("pk"))

    supports = [value for value, _ in m.Support.choices] + [""]
    claims, texts = [], []
    for subject in subjects:
        for dimension in dimensions:
            for k in range(1, size.claims_per_cell + 1):
                body = _sentence(rng, subject.name, dimension.name, k)
                claims.append(
                    m.Claim(
                        subject=subject,
                        dimension=dimension,
                        key=f"{dimension.slug}-{k}",
                        cell=" ".join(rng.choice(WORDS) for _ in range(3)).capitalize(),
                        support=rng.choice(supports),
                        body=body,
                        body_html=f"<p>{body}</p>",
                        status=m.Status.PUBLISHED,
                        order=dimension.order * 100 + k,
                    )
                )
                texts.append(body)
    _bulk(m.Claim, claims, progress, "claims")
    claim_ids = list(
        m.Claim.objects.filter(subject__slug__startswith=PREFIX).order_by("pk").values_list("pk", flat=True)
    )

    excerpts, per_source = [], {}
    for n, text in enumerate(texts):
        for e in range(1, size.excerpts_per_claim + 1):
            source = sources[(n + e) % len(sources)]
            per_source[source.pk] = per_source.get(source.pk, 0) + 1
            excerpts.append(
                m.Excerpt(source=source, key=f"excerpt-{n + 1}-{e}", text=text, order=per_source[source.pk])
            )
    _bulk(m.Excerpt, excerpts, progress, "excerpts")
    excerpt_ids = list(
        m.Excerpt.objects.filter(source__slug__startswith=PREFIX).order_by("pk").values_list("pk", flat=True)
    )
    evidence = [
        m.Evidence(
            claim_id=claim_ids[n // size.excerpts_per_claim],
            excerpt_id=excerpt_id,
            stance=m.Stance.CONTRADICTS if rng.random() < 0.05 else m.Stance.SUPPORTS,
            order=n % size.excerpts_per_claim + 1,
        )
        for n, excerpt_id in enumerate(excerpt_ids)
    ]
    _bulk(m.Evidence, evidence, progress, "evidence")

    task = m.Task.objects.create(slug=f"{PREFIX}-task", title="Synthetic task", order=999)
    snippets = _rendered(
        [
            m.Snippet(task=task, subject=subject, language=m.Language.PYTHON, code=f"print({subject.name!r})\n")
            for subject in subjects
        ]
    )
    _bulk(m.Snippet, snippets, progress, "snippets")
    content_changed(everything=True)
    search_index.rebuild()
    return {
        "subjects": len(subjects),
        "dimensions": len(dimensions),
        "groups": len(groups),
        "claims": len(claim_ids),
        "excerpts": len(excerpt_ids),
        "sources": len(sources),
        "snippets": len(snippets),
    }
