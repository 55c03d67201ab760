"""The editors' admin: lists an editor can scan, evidence before publication, history of every change.

Editors are staff in the ``Editors`` group (see ``create_editor``): they may
view, add, change and delete the knowledge base and nothing else.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import models as dj_models
from django.db.models import Count, Q
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from kb.editing import publishing
from kb.editing.admin_forms import (
    EVIDENCE_GATE_MESSAGE,
    UNVERIFIED_NOTE,
    ClaimForm,
    EvidenceForm,
    EvidenceInlineFormSet,
    ExcerptForm,
    KBModelForm,
    LabelledRowsFormSet,
)
from kb.editing.capture_forms import SourceForm
from kb.evidence.captures import store_capture
from kb.evidence.run_records import RUN_FIELDS
from kb.evidence.verification import verify_source
from kb.knowledge import models as m
from kb.knowledge.signals import bulk_write
from kb.site.preview import PREVIEW_PARAM

admin.site.site_header = "Knowledge base editors"
admin.site.site_title = "Knowledge base admin"
admin.site.index_title = "Curate the knowledge base"
admin.site.enable_nav_sidebar = False  # room for the list columns an editor scans


def derived_fields(model):
    """Fields that follow from others (the timestamps Django keeps, rendered HTML): left out of history diffs."""
    rendered = model.rendered_fields() if issubclass(model, m.Rendered) else []
    automatic = [
        f.name for f in model._meta.fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    return [*automatic, *rendered]


def preview_url(url):
    """``url`` as a staff preview (drafts shown, marked as drafts); the query goes before any #fragment."""
    path, hash_, fragment = url.partition("#")
    return f"{path}?{PREVIEW_PARAM}=1{hash_}{fragment}"


def count_column(name, description):
    @admin.display(description=description, ordering=name)
    def column(self, obj):
        return getattr(obj, name)

    return column


def doomed_evidence_claims(evidence):
    """Published claims that would be left without evidence if ``evidence`` (a queryset) were deleted."""
    doomed = list(evidence.values_list("pk", flat=True))
    if not doomed:
        return []
    claims = (
        m.Claim.objects.published()
        .filter(pk__in=m.Evidence.objects.filter(pk__in=doomed).values("claim_id"))
        .annotate(kept=Count("evidence", filter=~Q(evidence__pk__in=doomed)))
        .filter(kept=0)
        .select_related("subject", "dimension")
    )
    return list(claims)


@admin.display(description="last changed", ordering="changed")
def content_last_changed(obj):
    """A record's own content date (``changed``: from the files or an edit here), not the time it was loaded."""
    return timezone.localtime(obj.changed).date() if obj.changed else None


class KBAdmin(SimpleHistoryAdmin):
    """What every knowledge-base admin shares: clean text, history diffs, links to the public page."""

    form = KBModelForm
    list_per_page = 100
    save_on_top = True
    object_history_list_template = "admin/kb/object_history_list.html"
    formfield_overrides = {dj_models.URLField: {"assume_scheme": "https"}}
    preview = False  # offer "Preview with drafts" links on the change page

    # One edit (a record with its inlines, a deletion, a bulk action) is one content write: one generation,
    # and the cells it touched rewritten once, in its transaction (kb.knowledge.signals.bulk_write).
    def changeform_view(self, *args, **kwargs):
        with bulk_write():
            return super().changeform_view(*args, **kwargs)

    def delete_view(self, *args, **kwargs):
        with bulk_write():
            return super().delete_view(*args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        if request.method != "POST":
            return super().changelist_view(request, *args, **kwargs)
        with bulk_write():
            return super().changelist_view(request, *args, **kwargs)

    def annotate(self, queryset):
        """Counts and the like for the list columns; see get_queryset."""
        return queryset

    def get_queryset(self, request):
        queryset = self.annotate(super().get_queryset(request))
        if not queryset.ordered:  # Meta.ordering is not applied to aggregating (GROUP BY) queries
            queryset = queryset.order_by(*(self.get_ordering(request) or self.model._meta.ordering), "pk")
        return queryset

    @admin.display(description="last changed", ordering="updated")
    def last_changed(self, obj):
        """When the row last changed; claims, excerpts and snippets show their content date instead."""
        return timezone.localtime(obj.updated).date()

    # The public page: a draft opens as a staff preview.
    def view_on_site(self, obj):
        if not hasattr(obj, "get_absolute_url"):
            return None
        url = obj.get_absolute_url()
        return preview_url(url) if self.is_draft(obj) else url

    def is_draft(self, obj):
        return getattr(obj, "status", m.Status.PUBLISHED) != m.Status.PUBLISHED

    def preview_links(self, obj):
        if not self.preview or not hasattr(obj, "get_absolute_url"):
            return []
        return [("Preview with drafts", preview_url(obj.get_absolute_url()))]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context["preview_links"] = self.preview_links(obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    # History: a 404 for an id that is not one (simple-history would let the database refuse it: a 500).
    def history_view(self, request, object_id, extra_context=None):
        self._check_id(self.model._meta.pk, object_id)
        return super().history_view(request, object_id, extra_context=extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._check_id(self.model._meta.pk, object_id)
        self._check_id(self.model.history.model._meta.pk, version_id)
        return super().history_form_view(request, object_id, version_id, extra_context=extra_context)

    @staticmethod
    def _check_id(field, value):
        try:
            field.to_python(unquote(value))
        except ValidationError:
            raise Http404("No such record.") from None

    # History: what changed, without the derived fields.
    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        excluded = derived_fields(self.model)
        previous = None
        for current in historical_records:
            if previous is not None:
                delta = previous.diff_against(
                    current, excluded_fields=excluded, foreign_keys_are_objs=foreign_keys_are_objs
                )
                helper = self.get_historical_record_context_helper(request, previous)
                previous.history_delta_changes = helper.context_for_delta_changes(delta)
            previous = current

    # Deleting must not leave a published claim without evidence.
    def evidence_deleted_with(self, objs):
        return None

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        evidence = self.evidence_deleted_with(objs)
        if evidence is not None:
            protected = list(protected) + [
                f"Published claim “{claim}” would be left without evidence: unpublish it or link another excerpt first."
                for claim in doomed_evidence_claims(evidence)
            ]
        return deleted, model_count, perms_needed, protected


class KBInline(admin.TabularInline):
    form = KBModelForm
    formset = LabelledRowsFormSet
    extra = 0
    show_change_link = True


class KBStackedInline(admin.StackedInline):
    form = KBModelForm
    extra = 0
    show_change_link = True


# Subjects ----------------------------------------------------------------------


@admin.register(m.SubjectKind)
class SubjectKindAdmin(KBAdmin):
    list_display = ("name", "slug", "order", "subject_count")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    subject_count = count_column("subject_count", "subjects")

    def annotate(self, queryset):
        return queryset.annotate(subject_count=Count("subjects", distinct=True))


class SubjectAliasInline(KBInline):
    model = m.SubjectAlias
    verbose_name = "former slug (redirects here)"
    verbose_name_plural = "former slugs (redirect here)"
    show_change_link = False


class SubjectRelationInline(KBInline):
    model = m.SubjectRelation
    fk_name = "subject"
    fields = ("kind", "target")
    autocomplete_fields = ("target",)
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("subject", "target")


class SubjectRunnerInline(KBStackedInline):
    """Issue 22: where the subject's snippets run, per language, and the driver of its programs."""

    model = m.SubjectRunner
    fields = ("language", "runner", "driver")
    verbose_name = "snippet runner"
    verbose_name_plural = "snippet runners (the driver runs only in the snippet's sandbox, never in the site)"
    show_change_link = False


@admin.register(m.Subject)
class SubjectAdmin(KBAdmin):
    list_display = ("name", "slug", "kind", "first_release", "claim_count", "last_changed")
    list_select_related = ("kind",)
    list_filter = ("kind", "updated")
    search_fields = ("name", "slug", "summary")
    autocomplete_fields = ("kind",)
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created", "updated")
    fields = ("name", "slug", "kind", "summary", "homepage", "first_release", "created", "updated")
    inlines = (SubjectAliasInline, SubjectRelationInline, SubjectRunnerInline)
    preview = True
    claim_count = count_column("claim_count", "claims")

    def annotate(self, queryset):
        return queryset.annotate(claim_count=Count("claims", distinct=True))


@admin.register(m.SubjectAlias)
class SubjectAliasAdmin(KBAdmin):
    list_display = ("slug", "subject")
    list_select_related = ("subject",)
    search_fields = ("slug", "subject__name", "subject__slug")
    autocomplete_fields = ("subject",)


@admin.register(m.SubjectRelation)
class SubjectRelationAdmin(KBAdmin):
    list_display = ("subject", "kind", "target")
    list_select_related = ("subject", "target")
    list_filter = ("kind",)
    search_fields = ("subject__name", "subject__slug", "target__name", "target__slug")
    autocomplete_fields = ("subject", "target")


@admin.register(m.SubjectRunner)
class SubjectRunnerAdmin(KBAdmin):
    list_display = ("subject", "language", "runner")
    list_select_related = ("subject",)
    list_filter = ("runner", "language")
    search_fields = ("subject__name", "subject__slug", "language", "driver")
    autocomplete_fields = ("subject",)


# Dimensions ----------------------------------------------------------------------


class DimensionInline(KBInline):
    model = m.Dimension
    fields = ("name", "slug", "order")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(m.DimensionGroup)
class DimensionGroupAdmin(KBAdmin):
    list_display = ("name", "slug", "order", "dimension_count")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (DimensionInline,)
    dimension_count = count_column("dimension_count", "dimensions")

    def annotate(self, queryset):
        return queryset.annotate(dimension_count=Count("dimensions", distinct=True))


@admin.register(m.Dimension)
class DimensionAdmin(KBAdmin):
    list_display = ("name", "slug", "group", "order", "claim_count")
    list_select_related = ("group",)
    list_filter = ("group",)
    search_fields = ("name", "slug", "description", "group__name")
    autocomplete_fields = ("group",)
    prepopulated_fields = {"slug": ("name",)}
    preview = True
    claim_count = count_column("claim_count", "claims")

    def annotate(self, queryset):
        return queryset.annotate(claim_count=Count("claims", distinct=True))


# Sources and excerpts ---------------------------------------------------------------


class ExcerptInline(KBStackedInline):
    model = m.Excerpt
    form = ExcerptForm
    fields = (("key", "order"), "text", ("locator", "speaker"), "verification_status")
    readonly_fields = ("verification_status",)

    @admin.display(description="verification")
    def verification_status(self, obj):
        return verification_text(obj)


def verification_text(excerpt):
    if excerpt is None or excerpt.pk is None:
        return "—"
    if excerpt.verification == m.Verification.VERIFIED:
        return f"Verified against capture {excerpt.verified_sha256[:12]}"
    return excerpt.get_verification_display()


@admin.register(m.Source)
class SourceAdmin(KBAdmin):
    form = SourceForm
    list_display = ("title", "kind", "author", "publisher", "published", "quote_check", "excerpt_count", "last_changed")
    list_filter = ("kind", "publisher", "updated")
    search_fields = ("title", "slug", "author", "publisher", "url")
    prepopulated_fields = {"slug": ("title",)}
    autocomplete_fields = ("documents",)
    readonly_fields = ("created", "updated", "capture_summary")
    fieldsets = (
        (None, {"fields": ("title", "slug", "kind", "documents", "author", "publisher", "url", "licence")}),
        ("Dates", {"fields": (("published", "updated_on", "captured"),)}),
        (
            "Captured text",
            {
                "fields": ("capture_summary", "capture_file", "capture_text", "replace_capture", "archive"),
                "description": "The source's text as captured: every excerpt is checked to quote it word for word. "
                "Without it, excerpts are saved unverified.",
            },
        ),
        (None, {"fields": ("notes", ("created", "updated"))}),
    )
    inlines = (ExcerptInline,)
    excerpt_count = count_column("excerpt_count", "excerpts")

    def annotate(self, queryset):
        return queryset.annotate(
            excerpt_count=Count("excerpts", distinct=True),
            has_capture=dj_models.Exists(m.Capture.objects.filter(source=dj_models.OuterRef("pk"))),
        )

    @admin.display(description="captured text", boolean=True, ordering="has_capture")
    def quote_check(self, obj):
        """Whether the source has a stored capture, so its excerpts are checked against it."""
        return obj.has_capture

    @admin.display(description="stored capture")
    def capture_summary(self, obj):
        capture = m.Capture.objects.filter(source=obj).first() if obj and obj.pk else None
        if capture is None:
            return "None yet: its excerpts are saved unverified."
        return format_html(
            "Fingerprint <code>{}</code><br>captured {} · {} characters<br>from {} ({})",
            capture.sha256,
            timezone.localtime(capture.captured_at).strftime("%-d %B %Y %H:%M"),
            f"{capture.characters:,}",
            capture.origin,
            capture.extractor,
        )

    def save_model(self, request, obj, form, change):
        pending = getattr(obj, "pending_capture", None)
        if pending is not None:
            obj.capture_sha256, obj.capture_characters = pending.fingerprint
            obj.captured = timezone.localdate()
        super().save_model(request, obj, form, change)
        if pending is not None:
            store_capture(obj, pending, replace=True)
            messages.success(request, f"Captured text stored: {pending.fingerprint[1]:,} characters, "
                             f"fingerprint {pending.fingerprint[0][:12]}.")  # fmt: skip

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        excerpts = verify_source(form.instance)
        unverified = [e.key for e in excerpts if e.verification == m.Verification.UNVERIFIED]
        if unverified:
            messages.warning(request, f"{UNVERIFIED_NOTE} Unverified: {', '.join(unverified)}.")

    def evidence_deleted_with(self, objs):
        return m.Evidence.objects.filter(excerpt__source__in=objs)


@admin.register(m.Excerpt)
class ExcerptAdmin(KBAdmin):
    form = ExcerptForm
    list_display = ("__str__", "quote", "locator", "speaker", "verification", "claim_count", content_last_changed)
    list_select_related = ("source",)
    list_filter = ("verification", "source__kind", "source")
    search_fields = ("key", "text", "locator", "speaker", "source__slug", "source__title")
    autocomplete_fields = ("source",)
    readonly_fields = ("verification_status", "cited_by", "added", "changed")
    fields = (
        "source", "key", "text", "locator", "speaker", "order", "verification_status", "cited_by", "added", "changed",
    )  # fmt: skip
    claim_count = count_column("claim_count", "claims")

    @admin.display(description="verification")
    def verification_status(self, obj):
        return verification_text(obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        verify_source(obj.source)
        if getattr(form, "unverified_note", ""):
            messages.warning(request, form.unverified_note)

    def annotate(self, queryset):
        return queryset.annotate(claim_count=Count("evidence", distinct=True))

    @admin.display(description="text")
    def quote(self, obj):
        return Truncator(obj.text).chars(100)

    @admin.display(description="cited by")
    def cited_by(self, obj):
        if obj.pk is None:
            return "—"
        evidence = obj.evidence.select_related("claim__subject", "claim__dimension").order_by("claim__subject__name")
        if not evidence:
            return "No claim cites this excerpt yet."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> ({}, {})</li>',
                (
                    (
                        reverse("admin:kb_claim_change", args=[e.claim.pk]),
                        e.claim,
                        e.get_stance_display().lower(),
                        e.claim.get_status_display().lower(),
                    )
                    for e in evidence
                ),
            ),
        )

    def evidence_deleted_with(self, objs):
        return m.Evidence.objects.filter(excerpt__in=objs)


# Claims -------------------------------------------------------------------------------


class EvidenceInline(KBInline):
    model = m.Evidence
    formset = EvidenceInlineFormSet
    fields = ("excerpt", "quote", "stance", "order")
    readonly_fields = ("quote",)
    autocomplete_fields = ("excerpt",)
    extra = 1
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("excerpt__source")

    @admin.display(description="quotation")
    def quote(self, obj):
        if obj.excerpt_id is None:
            return "—"
        return Truncator(obj.excerpt.text).chars(240)


class EvidenceFilter(admin.SimpleListFilter):
    title = "evidence"
    parameter_name = "evidence"

    def lookups(self, request, model_admin):
        return (("none", "No excerpt (cannot be published)"), ("some", "At least one excerpt"))

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(excerpt_count=0)
        if self.value() == "some":
            return queryset.filter(excerpt_count__gt=0)
        return queryset


@admin.register(m.Claim)
class ClaimAdmin(KBAdmin):
    form = ClaimForm
    list_display = ("cell", "subject", "dimension", "support", "status", "excerpt_count", content_last_changed)
    list_select_related = ("subject", "dimension")
    list_filter = (
        "status", "support", "outdated", EvidenceFilter, "subject__kind", "dimension__group", "dimension", "subject",
    )  # fmt: skip
    search_fields = ("cell", "key", "body", "editor_note", "subject__name", "subject__slug", "dimension__name")
    autocomplete_fields = ("subject", "dimension", "superseded_by")
    prepopulated_fields = {"key": ("cell",)}
    readonly_fields = ("added", "changed")
    fieldsets = (
        (None, {"fields": ("subject", "dimension", "cell", "key", "support", "applies_to", "status", "order")}),
        ("Text", {"fields": ("body", "editor_note")}),
        (
            "Still true?",
            {
                "fields": ("reviewed", "outdated", "outdated_since", "superseded_by"),
                "description": "An outdated claim stays visible when its cell is opened, set apart, "
                "but never drives a badge, the Contested mark, the filters or the summary.",
            },
        ),
        # The content's own dates (from the files, or set by saving here), never the time of a load.
        ("Dates", {"fields": (("added", "changed"),)}),
    )
    inlines = (EvidenceInline,)
    actions = ("publish", "unpublish", "mark_for_review")
    preview = True
    excerpt_count = count_column("excerpt_count", "excerpts")

    def annotate(self, queryset):
        return queryset.with_excerpt_count()

    def save_related(self, request, form, formsets, change):
        """Which quotes back a claim, and how, is part of its content: changing them dates the claim changed.

        Reordering the quotes is not a change of content, as for every other record.
        """
        super().save_related(request, form, formsets, change)
        evidence_changed = any(
            formset.new_objects
            or formset.deleted_objects
            or any(set(fields) - {"order"} for _obj, fields in formset.changed_objects)
            for formset in formsets
            if formset.model is m.Evidence
        )
        if change and evidence_changed and "changed" not in form.changed_data:
            claim = form.instance
            claim.changed = timezone.now()
            claim.save(update_fields=["changed", "updated"])

    def preview_links(self, obj):
        links = [("Preview claim page", preview_url(obj.get_absolute_url()))]
        peer = self.comparison_peer(obj)
        if peer is not None:
            url = reverse("kb:compare", args=[[obj.subject.slug, peer.slug]])
            links.append((f"Preview comparison with {peer.name}", preview_url(url)))
        return links

    def comparison_peer(self, claim):
        """Another subject of the same kind to compare with, preferably one with a claim on the same dimension."""
        peers = m.Subject.objects.filter(kind_id=claim.subject.kind_id).exclude(pk=claim.subject_id)
        return peers.filter(claims__dimension_id=claim.dimension_id).order_by("name").first() or peers.first()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The evidence gate speaks at the top of the form, not only above the evidence rows.
        form = context["adminform"].form
        if form.is_bound:
            for inline_admin_formset in context.get("inline_admin_formsets", []):
                errors = inline_admin_formset.formset.non_form_errors().as_data()
                if any(error.code == "evidence_gate" for error in errors):
                    form.add_error(None, ValidationError(EVIDENCE_GATE_MESSAGE, code="evidence_gate"))
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def _set_status(self, request, queryset, status, reason):
        claims = publishing.set_status(queryset, status, user=request.user, reason=reason)
        for claim in claims:
            self.log_change(request, claim, [{"changed": {"fields": ["Status"]}}])
        return claims

    @admin.action(description="Publish selected claims (those with evidence)", permissions=["change"])
    def publish(self, request, queryset):
        if "excerpt_count" not in queryset.query.annotations:
            queryset = queryset.with_excerpt_count()
        without = list(queryset.filter(excerpt_count=0).exclude(status=m.Status.PUBLISHED))
        changed = self._set_status(request, queryset.filter(excerpt_count__gt=0), m.Status.PUBLISHED, "admin: publish")
        if changed:
            self.message_user(request, f"Published {len(changed)} claim(s).", messages.SUCCESS)
        if without:
            names = "; ".join(str(claim) for claim in without)
            self.message_user(
                request,
                f"Not published, because a claim needs at least one excerpt as evidence: {names}.",
                messages.WARNING,
            )
        if not changed and not without:
            self.message_user(request, "The selected claims were already published.", messages.INFO)

    @admin.action(description="Unpublish selected claims (back to draft)", permissions=["change"])
    def unpublish(self, request, queryset):
        changed = self._set_status(request, queryset, m.Status.DRAFT, "admin: unpublish")
        self.message_user(request, f"Moved {len(changed)} claim(s) back to draft.", messages.SUCCESS)

    @admin.action(description="Mark selected claims for review", permissions=["change"])
    def mark_for_review(self, request, queryset):
        changed = self._set_status(request, queryset, m.Status.REVIEW, "admin: mark for review")
        self.message_user(request, f"Marked {len(changed)} claim(s) for review.", messages.SUCCESS)


@admin.register(m.Evidence)
class EvidenceAdmin(KBAdmin):
    form = EvidenceForm
    list_display = ("claim", "excerpt", "stance", "order")
    list_select_related = ("claim__subject", "claim__dimension", "excerpt__source")
    list_filter = ("stance", "claim__status")
    search_fields = ("claim__cell", "claim__key", "claim__subject__name", "excerpt__key", "excerpt__text")
    autocomplete_fields = ("claim", "excerpt")

    def evidence_deleted_with(self, objs):
        return m.Evidence.objects.filter(pk__in=[obj.pk for obj in objs])


# Code snippets --------------------------------------------------------------------------

RUN_RECORD_FIELDS = RUN_FIELDS


class SnippetInline(KBStackedInline):
    model = m.Snippet
    fields = (
        ("subject", "language", "order"),
        "code",
        "explanation",
        ("derived_from", "source_note"),
        ("runnable", "not_runnable_reason"),
        "path",
        "check_summary",
        "check_code",
    )
    autocomplete_fields = ("subject", "derived_from")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("subject", "derived_from__source")


@admin.register(m.Task)
class TaskAdmin(KBAdmin):
    list_display = ("title", "slug", "order", "snippet_count", "last_changed")
    search_fields = ("title", "slug", "description")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("created", "updated")
    inlines = (SnippetInline,)
    snippet_count = count_column("snippet_count", "snippets")

    def annotate(self, queryset):
        return queryset.annotate(snippet_count=Count("snippets", distinct=True))


@admin.register(m.Snippet)
class SnippetAdmin(KBAdmin):
    list_display = ("task", "subject", "language", "runnable", "derived_from", content_last_changed)
    list_select_related = ("task", "subject", "derived_from__source")
    list_filter = ("language", "runnable", "task", "subject")
    search_fields = ("code", "explanation", "task__title", "subject__name", "subject__slug")
    autocomplete_fields = ("task", "subject", "derived_from")
    # The recorded run is written by verify_snippets --record, never typed in.
    readonly_fields = ("created", "updated", *RUN_RECORD_FIELDS)


@admin.register(m.FeaturedComparison)
class FeaturedComparisonAdmin(KBAdmin):
    list_display = ("path", "title", "order")
    search_fields = ("path", "title", "note")


@admin.register(m.SynonymGroup)
class SynonymGroupAdmin(KBAdmin):
    list_display = ("term", "words", "order")
    search_fields = ("term", "words", "note")
