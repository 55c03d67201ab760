"""The knowledge model: subjects compared on dimensions, claims backed by excerpts.

Nothing here knows what is being compared: subjects, kinds and dimensions are content.
"""

import secrets
from datetime import UTC, datetime
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import connections, models
from django.db.models import Count, F, Q, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from simple_history.models import HistoricalRecords

from kb.knowledge.rendering import highlight, known_language, language_name, render_markdown
from kb.knowledge.urls_memo import reverse

COMPARE_SEPARATOR = "-vs-"


def validate_subject_slug(value):
    if COMPARE_SEPARATOR in value:
        raise ValidationError(f"A subject slug may not contain {COMPARE_SEPARATOR!r}.", code="vs_in_slug")


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    REVIEW = "review", "Needs review"
    PUBLISHED = "published", "Published"


class Support(models.TextChoices):
    """How a subject provides what a dimension asks for. Drives badges and filters."""

    BUILT_IN = "built-in", "Built in"
    EXTENSION = "extension", "Via extension"
    PARTIAL = "partial", "Partial"
    NOT_PROVIDED = "not-provided", "Not provided"
    NOT_APPLICABLE = "not-applicable", "Not applicable"
    UNKNOWN = "unknown", "Unknown"


class Stance(models.TextChoices):
    SUPPORTS = "supports", "Supports"
    CONTRADICTS = "contradicts", "Contradicts"
    QUALIFIES = "qualifies", "Qualifies"


class RelationKind(models.TextChoices):
    EXTENDS = "extends", "extends"
    USED_BY = "used-by", "is used by"
    PART_OF = "part-of", "is part of"
    ALTERNATIVE_TO = "alternative-to", "is an alternative to"


class SourceKind(models.TextChoices):
    ARTICLE = "article", "Article"
    DOCUMENTATION = "documentation", "Official documentation"
    SURVEY = "survey", "Survey"
    COMMENT = "comment", "Comment"
    BOOK = "book", "Book"
    VIDEO = "video", "Video"
    OTHER = "other", "Other"


class Language(models.TextChoices):
    """Common snippet languages with friendly labels. Any language Pygments knows is valid."""

    PYTHON = "python", "Python"
    HTML_JINJA = "html+jinja", "HTML (Jinja template)"
    HTML_DJANGO = "html+django", "HTML (Django template)"
    HTML = "html", "HTML"
    SHELL = "shell", "Shell"
    TEXT = "text", "Plain text"
    SQL = "sql", "SQL"


def validate_language(value):
    """A snippet's language is any lexer alias Pygments knows (checked against its lexers)."""
    if not known_language(value):
        raise ValidationError(f"{value!r} is not a language Pygments knows.", code="unknown_language")


def language_label(value):
    return Language(value).label if value in Language.values else language_name(value)


class Verification(models.TextChoices):
    """Whether an excerpt was found word for word in its source's stored capture."""

    VERIFIED = "verified", "Verified"
    UNVERIFIED = "unverified", "Unverified (no capture)"
    MISMATCH = "mismatch", "Not found in the capture"


class RunOutcome(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    NOT_RUN = "not-run", "Not run here"


class Runner(models.TextChoices):
    """Where a subject's snippets in one language run (kb.evidence.snippet_runners)."""

    PYTHON = "python", "Python: the program in its own interpreter, under the subject's driver"
    SQLITE = "sqlite", "SQLite: an in-memory database"
    DUCKDB = "duckdb", "DuckDB: an in-memory database, through its Python package"
    POSTGRESQL = "postgresql", "PostgreSQL: a rolled-back transaction on the server in KB_SNIPPET_POSTGRES_URL"


WEB_URL = URLValidator(schemes=["http", "https"])


def web_url_check(field, name):
    """Only http(s) links, enforced by the database too (forms are not the only way in)."""
    condition = Q(**{field: ""}) | Q(**{f"{field}__startswith": "http://"}) | Q(**{f"{field}__startswith": "https://"})
    return models.CheckConstraint(condition=condition, name=name)


def choices_check(field, choices, name, allow_blank=False):
    allowed = list(choices.values) + ([""] if allow_blank else [])
    return models.CheckConstraint(condition=Q(**{f"{field}__in": allowed}), name=name)


class Timestamped(models.Model):
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ContentGenerationStamped(models.Model):
    """A base of historical records: the content generation in which readers first saw the version.

    Left empty when the record is written and stamped by the bump of the content generation that
    follows every content change, in its transaction (``kb.knowledge.signals.content_changed``), so
    single saves and bulk loads alike get the generation of the change. The claim page links each
    version to the comparison pinned at that generation.
    """

    content_generation = models.PositiveBigIntegerField(null=True, blank=True, db_index=True, editable=False)

    class Meta:
        abstract = True


class Rendered(models.Model):
    """Markdown fields rendered once, at save time, into ``<field>_html``."""

    markdown_fields = ()
    extra_rendered = ()  # other fields render() fills (a snippet's highlighted code)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.render()
        super().save(*args, **kwargs)

    @classmethod
    def rendered_fields(cls):
        """The fields render() fills: they follow from others, so no one edits them."""
        return [f"{name}_html" for name in cls.markdown_fields] + list(cls.extra_rendered)

    def render(self):
        for name in self.markdown_fields:
            setattr(self, f"{name}_html", render_markdown(getattr(self, name)))


# Subjects ------------------------------------------------------------------


class SubjectKind(models.Model):
    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "name"]
        constraints = [models.UniqueConstraint(fields=["slug"], name="unique_subject_kind_slug")]

    def __str__(self):
        return self.name


def first_of_each(queryset, partition, order, count):
    """The first ``count`` rows of each ``partition`` in ``order``, each with ``position`` and ``partition_total``."""
    return queryset.annotate(
        position=Window(RowNumber(), partition_by=F(partition), order_by=[F(name).asc() for name in order]),
        partition_total=Window(Count("pk"), partition_by=F(partition)),
    ).filter(position__lte=count)


class SubjectQuerySet(models.QuerySet):
    def with_kind(self):
        return self.select_related("kind")

    def in_order(self):
        return self.with_kind().order_by("kind__order", "kind__name", "name")

    def first_of_each_kind(self, count):
        return first_of_each(self.in_order(), "kind", ["name"], count)


class Subject(Rendered, Timestamped):
    markdown_fields = ("summary",)

    slug = models.SlugField(max_length=80, validators=[validate_subject_slug])
    name = models.CharField(max_length=120)
    kind = models.ForeignKey(SubjectKind, on_delete=models.PROTECT, related_name="subjects")
    summary = models.TextField(blank=True, help_text="Markdown.")
    summary_html = models.TextField(blank=True, editable=False)
    homepage = models.URLField(blank=True, validators=[WEB_URL])
    first_release = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1950), MaxValueValidator(2100)],
        help_text="Year of the first release.",
    )

    objects = SubjectQuerySet.as_manager()

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["slug"], name="unique_subject_slug"),
            models.CheckConstraint(condition=~Q(slug__contains=COMPARE_SEPARATOR), name="subject_slug_without_vs"),
            web_url_check("homepage", "subject_homepage_http"),
            models.CheckConstraint(
                condition=Q(first_release__isnull=True) | Q(first_release__gte=1950, first_release__lte=2100),
                name="subject_first_release_plausible",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("kb:subject", args=[self.slug])


class SubjectAlias(models.Model):
    """A former slug of a subject: old links redirect to the current one."""

    slug = models.SlugField(max_length=80)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="aliases")

    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "subject aliases"
        constraints = [models.UniqueConstraint(fields=["slug"], name="unique_subject_alias_slug")]

    def __str__(self):
        return f"{self.slug} → {self.subject.slug}"


class SubjectRelation(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="relations")
    kind = models.CharField(max_length=20, choices=RelationKind.choices)
    target = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="related_from")

    history = HistoricalRecords()

    class Meta:
        ordering = ["subject__name", "kind", "target__name"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "kind", "target"], name="unique_subject_relation"),
            models.CheckConstraint(condition=~Q(subject=models.F("target")), name="subject_relation_not_self"),
            choices_check("kind", RelationKind, "subject_relation_kind_valid"),
        ]

    def __str__(self):
        return f"{self.subject} {self.get_kind_display()} {self.target}"


def validate_relative_path(value):
    """A file a program finds beside itself: a relative path with no way out of its folder."""
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "~")) or ":" in value or any(part in ("", ".", "..") for part in parts):
        raise ValidationError(f"{value!r} is not a relative path such as templates/index.html.", code="bad_path")


class SubjectRunner(models.Model):
    """How a subject's snippets in one language run: the runner, and the driver of its programs.

    The driver is Python run in the snippet's sandboxed subprocess (never in the web process)
    before each snippet's check: for a program it imports it and makes a test client, for SQL
    the runner provides ``connection``. It comes only from content files or staff edits.
    """

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="runners")
    language = models.CharField(
        max_length=40, validators=[validate_language], help_text="The snippets' language, e.g. python or sql."
    )
    runner = models.CharField(max_length=20, choices=Runner.choices)
    driver = models.TextField(
        blank=True,
        help_text="Python run in the sandbox before a snippet's check, e.g. import app, then make a test client.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["subject__slug", "language"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "language"], name="unique_runner_per_subject_language"),
            choices_check("runner", Runner, "subject_runner_valid"),
        ]

    def __str__(self):
        return f"{self.subject.slug} {self.language}: {self.runner}"


# Dimensions ----------------------------------------------------------------


class DimensionGroup(models.Model):
    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "name"]
        constraints = [models.UniqueConstraint(fields=["slug"], name="unique_dimension_group_slug")]

    def __str__(self):
        return self.name


class DimensionQuerySet(models.QuerySet):
    def in_order(self):
        return self.select_related("group").order_by("group__order", "group__name", "order", "name")

    def first_of_each_group(self, count):
        return first_of_each(self.in_order(), "group", ["order", "name"], count)


class Dimension(Rendered):
    markdown_fields = ("description",)

    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=120)
    group = models.ForeignKey(DimensionGroup, on_delete=models.PROTECT, related_name="dimensions")
    description = models.TextField(blank=True, help_text="Markdown.")
    description_html = models.TextField(blank=True, editable=False)
    order = models.PositiveIntegerField(default=0)

    objects = DimensionQuerySet.as_manager()

    history = HistoricalRecords()

    class Meta:
        ordering = ["group__order", "order", "name"]
        constraints = [models.UniqueConstraint(fields=["slug"], name="unique_dimension_slug")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("kb:dimension", args=[self.slug])


# Sources and excerpts --------------------------------------------------------


class Source(Rendered, Timestamped):
    markdown_fields = ("notes",)

    slug = models.SlugField(max_length=80)
    title = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=SourceKind.choices, default=SourceKind.ARTICLE)
    author = models.CharField(max_length=200, blank=True)
    publisher = models.CharField(max_length=200, blank=True)
    url = models.URLField(blank=True, max_length=500, validators=[WEB_URL])
    published = models.DateField(null=True, blank=True)
    updated_on = models.DateField(null=True, blank=True, help_text="When the source itself was last updated.")
    licence = models.CharField(max_length=100, blank=True, help_text="Licence of the source's text, when known.")
    captured = models.DateField(null=True, blank=True, help_text="When the archived text was captured.")
    archive = models.CharField(
        max_length=200,
        blank=True,
        help_text="File name (without .txt) of the archived text in the source archive folder.",
    )
    capture_sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the capture the content files expect (its fingerprint)."
    )
    capture_characters = models.PositiveIntegerField(
        null=True, blank=True, help_text="Length of that capture in characters."
    )
    notes = models.TextField(blank=True, help_text="Markdown.")
    notes_html = models.TextField(blank=True, editable=False)
    documents = models.ForeignKey(
        Subject,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documentation",
        help_text="For documentation: the subject it is the own documentation of (its makers' docs).",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["slug"], name="unique_source_slug"),
            choices_check("kind", SourceKind, "source_kind_valid"),
            models.CheckConstraint(
                condition=Q(documents__isnull=True) | Q(kind="documentation"), name="source_documents_is_documentation"
            ),
            web_url_check("url", "source_url_http"),
            models.CheckConstraint(
                condition=Q(capture_sha256="") | Q(capture_sha256__regex=r"^[0-9a-f]{64}$"),
                name="source_capture_sha256_hex",
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("kb:source", args=[self.slug])

    def clean(self):
        if self.documents_id and self.kind != SourceKind.DOCUMENTATION:
            raise ValidationError({"documents": "Only documentation is a subject's own documentation."})


class Capture(models.Model):
    """The captured text of a source: what its excerpts are checked against.

    Kept in the database (and in backups), never in ``content/``: the files carry only
    its fingerprint (``Source.capture_sha256``), since the text is other people's work.
    """

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="capture")
    text = models.TextField(help_text="The source's main text, normalised to plain text.")
    sha256 = models.CharField(max_length=64)
    characters = models.PositiveIntegerField()
    captured_at = models.DateTimeField(help_text="When the text was captured.")
    origin = models.CharField(max_length=500, help_text="Where it came from: a URL or a file name.")
    extractor = models.CharField(max_length=100, help_text="How the text was extracted, with the tool's version.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source__title"]
        constraints = [
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="capture_sha256_hex"),
        ]

    def __str__(self):
        return f"capture of {self.source.slug} ({self.short_sha})"

    @property
    def short_sha(self):
        return self.sha256[:12]


class ContentDated(models.Model):
    """When a record was added and last changed, as content: written to and read from the files.

    Saving a record (the admin, a shell) sets ``added`` when it is new and ``changed`` when one of
    its ``content_fields`` differs from what was read from the database; saving it unchanged, or
    changing only its order, leaves the dates alone. ``load_content`` writes in bulk and takes the
    dates from the files instead (see kb.content.sync).
    """

    content_fields = ()  # attnames whose change is a change of the content

    added = models.DateTimeField(null=True, blank=True, help_text="When this was added to the knowledge base.")
    changed = models.DateTimeField(null=True, blank=True, help_text="When its content last changed.")

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        stamped = self.stamp_dates()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and stamped:
            kwargs["update_fields"] = {*update_fields, *stamped}
        super().save(*args, **kwargs)
        self._loaded_content = self._content_values()

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_content = instance._content_values()
        return instance

    def _content_values(self):
        """The content fields' values, or None when some were not loaded (deferred)."""
        loaded = self.__dict__
        if not all(name in loaded for name in (*self.content_fields, "changed")):
            return None
        return tuple(loaded[name] for name in self.content_fields), loaded["changed"]

    def stamp_dates(self, now=None):
        """Set ``added`` and ``changed`` for a save; return the names of the fields set."""
        now = now or timezone.now()
        stamped = []
        if self.added is None:
            self.added = now
            stamped.append("added")
        loaded = getattr(self, "_loaded_content", None)
        current = self._content_values()
        if self._state.adding or loaded is None or current is None:
            # A new record keeps the dates its creator gave it (a record copied from elsewhere).
            content_changed, date_set_by_caller = self._state.adding, self.changed is not None
        else:
            content_changed, date_set_by_caller = loaded[0] != current[0], loaded[1] != current[1]
        if (content_changed and not date_set_by_caller) or self.changed is None:
            self.changed = now
            stamped.append("changed")
        return stamped


class Excerpt(ContentDated, Timestamped):
    content_fields = ("source_id", "key", "text", "locator", "speaker")

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="excerpts")
    key = models.SlugField(max_length=120, help_text="Unique within its source.")
    text = models.TextField(help_text="The verbatim quotation.")
    locator = models.CharField(max_length=300, blank=True, help_text="Section heading it stands under.")
    speaker = models.CharField(max_length=200, blank=True, help_text="Who said it, for a comment.")
    order = models.PositiveIntegerField(default=0)
    verification = models.CharField(
        max_length=20, choices=Verification.choices, default=Verification.UNVERIFIED, editable=False
    )
    verified_sha256 = models.CharField(
        max_length=64, blank=True, editable=False, help_text="Fingerprint of the capture it was checked against."
    )
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    context_before = models.TextField(blank=True, editable=False, help_text="The sentence before it in the capture.")
    context_after = models.TextField(blank=True, editable=False, help_text="The sentence after it in the capture.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["source__title", "order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["source", "key"], name="unique_excerpt_key_per_source"),
            choices_check("verification", Verification, "excerpt_verification_valid"),
        ]

    def __str__(self):
        return f"{self.source.slug}/{self.key}"

    def get_absolute_url(self):
        return f"{self.source.get_absolute_url()}#excerpt-{self.key}"

    @property
    def ref(self):
        return f"{self.source.slug}/{self.key}"


# Claims ----------------------------------------------------------------------


class ClaimQuerySet(models.QuerySet):
    def counts_by(self, field, objects):
        """{pk: number of these claims} for each of ``objects`` by ``field`` ("subject", "dimension"): one query."""
        rows = self.filter(**{f"{field}__in": objects}).order_by().values_list(field).annotate(count=Count("pk"))
        return dict(rows)

    def published(self):
        return self.filter(status=Status.PUBLISHED)

    def recent(self):
        """The most recently changed first, by the content's own dates (``claim_dated_idx`` serves the order)."""
        return self.order_by(Coalesce("changed", "added", "updated").desc(), "-pk")

    def visible(self, preview=False):
        """What a page shows: published claims, or every claim in a staff preview."""
        return self.all() if preview else self.published()

    def with_evidence(self):
        """Everything a cell or a claim page shows, in a fixed number of queries."""
        return self.select_related("subject", "dimension__group").prefetch_related(
            models.Prefetch(
                "evidence",
                queryset=Evidence.objects.select_related("excerpt__source").order_by("order", "pk"),
            )
        )

    def with_excerpt_count(self):
        return self.annotate(excerpt_count=Count("evidence", distinct=True))

    def current(self):
        """Claims that still hold: outdated ones are shown apart and never drive a badge."""
        return self.filter(outdated=False)


class Claim(Rendered, ContentDated, Timestamped):
    markdown_fields = ("body", "editor_note")
    content_fields = (
        "subject_id", "key", "dimension_id", "cell", "support", "applies_to", "status", "outdated",
        "outdated_since", "superseded_by_id", "body", "editor_note",
    )  # fmt: skip

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="claims")
    dimension = models.ForeignKey(Dimension, on_delete=models.PROTECT, related_name="claims")
    key = models.SlugField(max_length=120, help_text="Unique within its subject.")
    cell = models.CharField(max_length=200, help_text="The short text a comparison table shows.")
    support = models.CharField(max_length=20, choices=Support.choices, blank=True)
    body = models.TextField(blank=True, help_text="Markdown.")
    body_html = models.TextField(blank=True, editable=False)
    editor_note = models.TextField(
        blank=True, help_text="Markdown. An editor's note, shown apart from the sources: what is true now."
    )
    editor_note_html = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    order = models.PositiveIntegerField(default=0)
    excerpts = models.ManyToManyField(Excerpt, through="Evidence", related_name="claims")
    applies_to = models.CharField(
        max_length=120, blank=True, help_text='The versions it applies to, e.g. "≥ 2.0" or "5.2 and later".'
    )
    outdated = models.BooleanField(
        default=False, help_text="No longer true: kept visible when a cell is opened, never drives a badge."
    )
    outdated_since = models.CharField(
        max_length=120, blank=True, help_text='From when it stopped being true, e.g. "2.0" or "2021-05".'
    )
    superseded_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="supersedes",
        help_text="The claim that replaces it.",
    )  # fmt: skip
    reviewed = models.DateField(
        null=True, blank=True, help_text="The day an editor last checked the claim against its sources."
    )

    objects = ClaimQuerySet.as_manager()

    history = HistoricalRecords(bases=[ContentGenerationStamped])

    class Meta:
        ordering = ["subject__name", "order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "key"], name="unique_claim_key_per_subject"),
            choices_check("support", Support, "claim_support_valid", allow_blank=True),
            choices_check("status", Status, "claim_status_valid"),
            models.CheckConstraint(
                condition=Q(outdated=True) | (Q(outdated_since="") & Q(superseded_by__isnull=True)),
                name="claim_only_outdated_is_superseded",
            ),
            models.CheckConstraint(condition=~Q(superseded_by=models.F("pk")), name="claim_not_superseded_by_itself"),
        ]
        indexes = [
            models.Index(fields=["subject", "dimension"], name="claim_cell_idx"),
            # At 100,000 claims: the latest published claims (home, feeds) read in order instead of
            # sorting them all, and counts of published claims per subject and per dimension (indexes)
            # from the index alone. Nothing leads with the status, which SQLite's planner would then
            # prefer to better indexes (a subject's claims, claims by id); nor partial: SQLite uses
            # those only when the query spells the status as a literal.
            models.Index(Coalesce("changed", "added", "updated").desc(), models.F("id").desc(), name="claim_dated_idx"),
            models.Index(fields=["subject", "status"], name="claim_subject_status_idx"),
            models.Index(fields=["dimension", "status"], name="claim_dimension_status_idx"),
        ]

    def __str__(self):
        return f"{self.subject.name} · {self.dimension.name}: {self.cell}"

    def get_absolute_url(self):
        return reverse("kb:claim", args=[self.subject.slug, self.key])

    @property
    def is_published(self):
        return self.status == Status.PUBLISHED

    def clean(self):
        if not self.outdated and (self.outdated_since or self.superseded_by_id):
            raise ValidationError({"outdated": "Mark the claim outdated to give an outdated-since or a successor."})
        if self.superseded_by_id and self.superseded_by_id == self.pk:
            raise ValidationError({"superseded_by": "A claim cannot supersede itself."})


class Evidence(models.Model):
    """An excerpt bearing on a claim, with its stance."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="evidence")
    excerpt = models.ForeignKey(Excerpt, on_delete=models.CASCADE, related_name="evidence")
    stance = models.CharField(max_length=20, choices=Stance.choices, default=Stance.SUPPORTS)
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "pk"]
        verbose_name_plural = "evidence"
        constraints = [
            models.UniqueConstraint(fields=["claim", "excerpt"], name="unique_evidence_per_claim"),
            choices_check("stance", Stance, "evidence_stance_valid"),
        ]

    def __str__(self):
        return f"{self.excerpt} {self.stance} {self.claim.subject.slug}/{self.claim.key}"


# Code snippets -----------------------------------------------------------------


class Task(Rendered, Timestamped):
    markdown_fields = ("description",)

    slug = models.SlugField(max_length=80)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown.")
    description_html = models.TextField(blank=True, editable=False)
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "title"]
        constraints = [models.UniqueConstraint(fields=["slug"], name="unique_task_slug")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("kb:task", args=[self.slug])


class Snippet(Rendered, ContentDated, Timestamped):
    markdown_fields = ("explanation", "source_note")
    extra_rendered = ("code_html",)
    content_fields = (
        "task_id", "subject_id", "language", "path", "code", "explanation", "derived_from_id", "source_note",
        "runnable", "not_runnable_reason", "check_summary", "check_code",
    )  # fmt: skip

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="snippets")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="snippets")
    language = models.CharField(
        max_length=40, validators=[validate_language], help_text="Any Pygments language name, e.g. python or sql."
    )
    code = models.TextField()
    code_html = models.TextField(blank=True, editable=False)
    explanation = models.TextField(blank=True, help_text="Markdown.")
    explanation_html = models.TextField(blank=True, editable=False)
    derived_from = models.ForeignKey(Excerpt, on_delete=models.SET_NULL, null=True, blank=True, related_name="snippets")
    source_note = models.TextField(blank=True, help_text="Markdown: how it differs from what the source printed.")
    source_note_html = models.TextField(blank=True, editable=False)
    runnable = models.BooleanField(default=True)
    not_runnable_reason = models.TextField(blank=True)
    path = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_relative_path],
        help_text="Where the program of its task and subject finds it (e.g. templates/index.html): written there "
        "when that program runs, it has no run of its own.",
    )
    check_summary = models.CharField(
        max_length=300, blank=True, help_text='What the check asserts, in plain words: GET / answers 200 with "Hi".'
    )
    check_code = models.TextField(
        blank=True,
        help_text="Python assertions run in the snippet's sandbox after its subject's driver (never in the web "
        "process).",
    )
    order = models.PositiveIntegerField(default=0)
    # The last recorded run (verify_snippets --record), content like the rest: exported and loaded.
    ran = models.DateTimeField(null=True, blank=True, help_text="When the recorded run ran.")
    run_outcome = models.CharField(max_length=20, choices=RunOutcome.choices, blank=True)
    run_runner = models.CharField(
        max_length=200, blank=True, help_text="The runner and engine it ran on, e.g. duckdb, or python (a template)."
    )
    run_versions = models.JSONField(
        default=list, blank=True, help_text="[name, version] pairs: the subject's packages, then the engine."
    )
    run_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of what ran (runner, driver, check, code and its files)."
    )
    run_error = models.TextField(blank=True, help_text="The end of the error, when it failed.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["task__order", "order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "subject", "language"], name="unique_snippet_per_task_subject_language"
            ),
            models.CheckConstraint(
                condition=Q(runnable=True) | ~Q(not_runnable_reason=""), name="snippet_not_runnable_has_reason"
            ),
            models.CheckConstraint(condition=Q(check_code="") | ~Q(check_summary=""), name="snippet_check_has_summary"),
            choices_check("run_outcome", RunOutcome, "snippet_recorded_outcome_valid", allow_blank=True),
        ]

    def __str__(self):
        return f"{self.task.title} · {self.subject.name} ({self.get_language_display()})"

    def get_absolute_url(self):
        return f"{self.task.get_absolute_url()}#{self.anchor}"

    def get_language_display(self):
        return language_label(self.language)

    def clean(self):
        if not self.runnable and not self.not_runnable_reason.strip():
            raise ValidationError({"not_runnable_reason": "Say why a snippet cannot be run in isolation."})
        if self.check_code.strip() and not self.check_summary.strip():
            raise ValidationError({"check_summary": "Say in plain words what the check asserts."})

    @property
    def run_versions_text(self):
        return ", ".join(f"{name} {version}" for name, version in self.run_versions)

    @property
    def anchor(self):
        return f"snippet-{self.subject.slug}-{self.language.replace('+', '-')}"

    def render(self):
        super().render()
        self.code_html = highlight(self.code, self.language)


# Featured comparisons ----------------------------------------------------------


class FeaturedComparison(models.Model):
    """A comparison the home page features: content, never code."""

    path = models.CharField(max_length=400, help_text='Subject slugs joined by "-vs-", e.g. one-vs-other.')
    title = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True, help_text="One line on why it is worth reading.")
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "path"]
        constraints = [models.UniqueConstraint(fields=["path"], name="unique_featured_comparison_path")]

    def __str__(self):
        return self.title or self.path

    def get_absolute_url(self):
        return reverse("kb:compare", args=[self.slugs])

    @property
    def slugs(self):
        return self.path.split(COMPARE_SEPARATOR)


class SynonymGroup(models.Model):
    """Words that search treats as one where English stemming cannot ("async", "asynchronous"): content.

    Stemming already joins "routes" and "routing"; a group joins words whose stems differ. A query word
    that is the group's ``term`` or one of its ``words`` matches any of them (kb.site.search).
    """

    term = models.SlugField(max_length=60, help_text="The group's name and first word, e.g. async.")
    words = models.CharField(
        max_length=400, help_text="The other words, separated by spaces, e.g. asynchronous asynchrony."
    )
    note = models.TextField(blank=True, help_text="Why these words mean the same here.")
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "term"]
        constraints = [models.UniqueConstraint(fields=["term"], name="unique_synonym_group_term")]

    def __str__(self):
        return " = ".join(self.all_words)

    @property
    def all_words(self):
        return [self.term.lower(), *(word.lower() for word in self.words.split())]


# Site state ----------------------------------------------------------------------


class SyncDirectory(models.Model):
    """A content directory the database was loaded from or exported to, by its resolved path."""

    path = models.CharField(max_length=1000, unique=True)
    loaded = models.DateTimeField(null=True, help_text="When it was last loaded.")
    exported = models.DateTimeField(null=True, help_text="When the database was last exported to it.")

    class Meta:
        verbose_name_plural = "sync directories"

    def __str__(self):
        return self.path


class SyncRecord(models.Model):
    """What one content directory said about one record at its last load or export (the merge base).

    ``fingerprint`` covers the record's content; its position and dates are kept as they were
    written, since they follow their own rule (see kb.content.sync).
    """

    directory = models.ForeignKey(SyncDirectory, on_delete=models.CASCADE, related_name="records")
    model = models.CharField(max_length=60, help_text="The model's label, e.g. kb.claim.")
    key = models.TextField(help_text="The natural key, as JSON.")
    fingerprint = models.CharField(max_length=64)
    position = models.IntegerField(null=True)
    added = models.DateTimeField(null=True)
    changed = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["directory", "model", "key"], name="unique_sync_record")]

    def __str__(self):
        return f"{self.directory}: {self.model} {self.key}"


def new_epoch():
    """A database's identity: random, so two databases (or one dropped and made again) never share one."""
    return secrets.token_hex(8)


class ContentState(NamedTuple):
    """Which content a reader sees: the database's epoch, the generation within it, and when it last changed;
    ``frame_changed``: when the subjects, their kinds or the dimensions last changed (None: not known)."""

    epoch: str
    generation: int
    changed: datetime | None
    frame_changed: datetime | None = None

    @property
    def key(self):
        """``<epoch>-<generation>``: names this content in cache keys and versions, unique across databases."""
        return f"{self.epoch}-{self.generation}"


def _content_version_table(connection):
    return connection.ops.quote_name(ContentVersion._meta.db_table)


def _aware(value):
    if isinstance(value, str):  # SQLite hands back text
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


class ContentVersionQuerySet(models.QuerySet):
    def current(self):
        """(generation, changed) of the content readers see; one indexed read."""
        row = self.filter(pk=1).values_list("generation", "changed").first()
        return row or (0, None)

    def state(self):
        """The :class:`ContentState` readers see; one indexed read (a fresh database has generation 0).

        In one plain SQL statement: every comparison page (and every page-cache hit) reads it, and the ORM
        would build the same query afresh each time, which costs twenty times the read.
        """
        connection = connections[self.db]
        with connection.cursor() as cursor:
            table = _content_version_table(connection)
            cursor.execute(f"SELECT epoch, generation, changed, frame_changed FROM {table} WHERE id = 1")
            row = cursor.fetchone()
        if row is None:
            row = self.get_or_create(pk=1, defaults={"generation": 0})[0]
            return ContentState(row.epoch, row.generation, row.changed, row.frame_changed)
        epoch, generation, changed, frame_changed = row
        return ContentState(epoch, generation, _aware(changed), _aware(frame_changed))

    def bump(self, *, frame=True):
        """Every content change calls this: cached pages of older generations are never served again.

        ``frame``: the change may have touched the subjects, their kinds or the dimensions (what frames every
        comparison, kb.comparison.table.frame); a change that did not leaves ``frame_changed`` as it was.
        """
        now = timezone.now()
        stamps = {"changed": now, "frame_changed": now} if frame else {"changed": now}
        updated = self.filter(pk=1).update(generation=models.F("generation") + 1, **stamps)
        if not updated:
            self.get_or_create(pk=1, defaults={"generation": 1, "changed": now, "frame_changed": now})


class ContentVersion(models.Model):
    """One row: a counter bumped by every content change (admin, bulk action, load_content).

    Kept in the database, not the cache, so every process and host agrees on it.
    """

    generation = models.PositiveBigIntegerField(default=0)
    changed = models.DateTimeField(null=True)
    # When a change last touched the subjects, their kinds or the dimensions (ContentVersionQuerySet.bump).
    frame_changed = models.DateTimeField(null=True)
    # The database's identity: generations count again from 0 in a new database, epochs never repeat.
    epoch = models.CharField(max_length=32, default=new_epoch, editable=False)

    objects = ContentVersionQuerySet.as_manager()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="content_version_single_row")]

    def __str__(self):
        return f"generation {self.generation}"


class SearchKind(models.TextChoices):
    SUBJECT = "subject", "Subject"
    DIMENSION = "dimension", "Dimension"
    CLAIM = "claim", "Claim"
    EXCERPT = "excerpt", "Excerpt"
    SNIPPET = "snippet", "Snippet"


class SearchDocument(models.Model):
    """The searchable text of one public object, indexed by the database's full-text engine.

    PostgreSQL: a generated tsvector column with a GIN index; SQLite: an FTS5 table kept
    in step by triggers. Both are created by migration 0003 and are not model fields.
    """

    kind = models.CharField(max_length=20, choices=SearchKind.choices)
    object_id = models.PositiveBigIntegerField()
    title = models.CharField(max_length=400)
    body = models.TextField(blank=True)
    public = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="unique_search_document"),
            choices_check("kind", SearchKind, "search_document_kind_valid"),
        ]

    def __str__(self):
        return f"{self.kind} {self.object_id}: {self.title}"
